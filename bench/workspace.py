"""The bench's working tree (bench/.work/, gitignored): backends, caches, a moto server.

Backends are copies of the example backend, so each figure can vary one input: a second
lock (layer B: one more file hash, so other pins) for the layer-change deploy, a second
VERSION (package B) for code-only deploys, and a flat hashed requirements file made from
the lock's pins (no markers) for the baselines and the host Python figure against SAM.
Smoke mode swaps the real lock for one tiny local wheel, so it needs no network.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import re
import shutil
import socket
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from environments import REPO_ROOT

BENCH_DIR = REPO_ROOT / "bench"
WORK_DIR = BENCH_DIR / ".work"
EXAMPLE_BACKEND = REPO_ROOT / "examples" / "backend"
VENV_PYTHON = REPO_ROOT / ".venv" / "bin" / "python"

TEST_CREDENTIALS: Mapping[str, str] = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-west-2",
}
# Variables that would point a child at real AWS or change what main.py synthesizes.
_DROPPED = (
    "AWS_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_ENDPOINT_URL",
    "LAYERS_FAST_PROVIDER_IMPORT",
    "CDKTF_OUTDIR",
    "UV_CACHE_DIR",
    "PIP_CACHE_DIR",
    "LAYERS_CACHE_DIR",
)
_MARKER = re.compile(r"\s*;[^\\\n]*")


@dataclass(frozen=True, kw_only=True)
class Backends:
    """Backend directories (app/, lambdas/, VERSION, poetry.lock, requirements.txt)."""

    layer_a: Path  # the example (or, in smoke mode, the tiny offline) lock
    layer_b: Path  # the same versions, one more file hash: another cache key
    package_b: Path  # app code with another VERSION: another function package
    host_python: Path  # layer_a's pins as a requirements file only, for the host's Python
    # --find-links/--no-index arguments for offline (smoke) builds; empty for PyPI.
    index_args: tuple[str, ...]


def fresh_dir(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def _copy_backend(source: Path, dest: Path) -> Path:
    fresh_dir(dest)
    for name in ("app", "lambdas"):
        shutil.copytree(
            source / name, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
    for name in ("VERSION", "poetry.lock", "pyproject.toml"):
        if (source / name).is_file():
            shutil.copy2(source / name, dest / name)
    return dest


def pinned_requirements(backend: Path, runtime: str = "python3.12") -> str:
    """The pins our builder installs from `backend`'s lock, as one flat hashed file: what
    pip and SAM get, so every tool installs the same versions from the same files."""
    from scripts.builder.lockfile import LockSource, installer_requirements, read_pins
    from scripts.builder.pins import MarkerTarget

    target = MarkerTarget(python_version=runtime.removeprefix("python"), architecture="x86_64")
    lock = next(backend / name for name in ("poetry.lock", "uv.lock") if (backend / name).is_file())
    return installer_requirements(read_pins(LockSource(lock_file=lock), target))


def another_pin_set(lock: Path) -> None:
    """One more (never downloaded) file hash on the first package: the same versions
    install, but the pins and so the cache key differ."""
    text = lock.read_text(encoding="utf-8")
    extra = '{file = "bench-layer-b.whl", hash = "sha256:' + "b" * 64 + '"},\n'
    lock.write_text(text.replace("files = [\n", f"files = [\n    {extra}", 1), encoding="utf-8")


def strip_markers(requirements: str) -> str:
    """`pkg==1.0 ; python_version == "3.12" \\` -> `pkg==1.0 \\` (hashes kept)."""
    lines = []
    for line in requirements.splitlines():
        stripped = _MARKER.sub("", line)
        if stripped != line and line.rstrip().endswith("\\"):
            stripped = stripped.rstrip("\\ ") + " \\"
        lines.append(stripped)
    return "\n".join(lines) + "\n"


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return f"sha256={digest.decode()}"


def tiny_wheel(directory: Path, name: str = "benchdep", version: str = "1.0") -> Path:
    """A minimal valid pure wheel, so smoke mode installs something real without network."""
    dist_info = f"{name}-{version}.dist-info"
    contents = {
        f"{name}/__init__.py": f"VERSION = {version!r}\n".encode(),
        f"{dist_info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
        ),
        f"{dist_info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: bench\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = "".join(f"{p},{_record_hash(d)},{len(d)}\n" for p, d in contents.items())
    contents[f"{dist_info}/RECORD"] = (record + f"{dist_info}/RECORD,,\n").encode()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for arcname, data in contents.items():
            archive.writestr(zipfile.ZipInfo(arcname, date_time=(2024, 1, 1, 0, 0, 0)), data)
    return path


def _tiny_lock(backend: Path, wheel: Path) -> None:
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    (backend / "pyproject.toml").unlink(missing_ok=True)  # its content-hash is the example's
    (backend / "poetry.lock").write_text(
        '# bench smoke lock\n\n[[package]]\nname = "benchdep"\nversion = "1.0"\n'
        'optional = false\ngroups = ["main"]\nfiles = [\n'
        f'    {{file = "{wheel.name}", hash = "sha256:{digest}"}},\n]\n\n'
        '[metadata]\nlock-version = "2.1"\npython-versions = "^3.10"\n',
        encoding="utf-8",
    )


def prepare_backends(root: Path, *, smoke: bool) -> Backends:
    layer_a = _copy_backend(EXAMPLE_BACKEND, root / "layer-a")
    index_args: tuple[str, ...] = ()
    if smoke:
        wheelhouse = fresh_dir(root / "wheelhouse")
        _tiny_lock(layer_a, tiny_wheel(wheelhouse))
        index_args = ("--no-index", "--find-links", str(wheelhouse))
    layer_b = _copy_backend(layer_a, root / "layer-b")
    another_pin_set(layer_b / "poetry.lock")
    package_b = _copy_backend(layer_a, root / "package-b")
    version = (layer_a / "VERSION").read_text(encoding="utf-8").strip()
    (package_b / "VERSION").write_text(f"{version}+bench.b\n", encoding="utf-8")
    host_python = _copy_backend(layer_a, root / "host-python")
    (host_python / "requirements.txt").write_text(pinned_requirements(layer_a))
    # Only the requirements file: the lock is for ~3.12, the host Python may be another.
    (host_python / "poetry.lock").unlink()
    (host_python / "pyproject.toml").unlink(missing_ok=True)
    return Backends(
        layer_a=layer_a,
        layer_b=layer_b,
        package_b=package_b,
        host_python=host_python,
        index_args=index_args,
    )


# ---- process environments ----------------------------------------------------------------


def base_environ(*, endpoint: str, uv_cache: Path) -> dict[str, str]:
    """For our own commands: moto as AWS, test credentials, the bench's uv cache."""
    environ = {k: v for k, v in os.environ.items() if k not in _DROPPED}
    environ.update(TEST_CREDENTIALS)
    environ["AWS_ENDPOINT_URL"] = endpoint
    environ["UV_CACHE_DIR"] = str(uv_cache)
    # Our build cache (deflated files, bytecode) beside uv's: warm and cold like it.
    environ["LAYERS_CACHE_DIR"] = str(uv_cache.with_name("layers-cache"))
    environ["JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"] = "20"
    environ["CHECKPOINT_DISABLE"] = "1"
    return environ


def pip_environ(base: Mapping[str, str], *, pip_cache: Path) -> dict[str, str]:
    """For pip and SAM: no machine-wide pip configuration (find-links, extra local indexes,
    constraints), so they resolve from PyPI alone like our builder; the bench's pip cache."""
    environ = {k: v for k, v in base.items() if not k.startswith("PIP_")}
    environ["PIP_CONFIG_FILE"] = os.devnull
    environ["PIP_CACHE_DIR"] = str(pip_cache)
    environ["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    for name in ("PIP_CERT", "PIP_DEFAULT_TIMEOUT"):
        if name in base:
            environ[name] = base[name]
    return environ


def bytecode_environ(base: Mapping[str, str], prefix: Path) -> dict[str, str]:
    """Bytecode cached under bench/.work (not in .venv), as on a developer's machine."""
    environ = {k: v for k, v in base.items() if k != "PYTHONDONTWRITEBYTECODE"}
    environ["PYTHONPYCACHEPREFIX"] = str(prefix)
    return environ


# ---- moto ---------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def moto_server() -> Iterator[str]:
    """A real moto server (S3, Lambda, IAM over HTTP) on a free loopback port."""
    from moto.server import ThreadedMotoServer

    # One access-log line per request would bury the bench's own progress.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
