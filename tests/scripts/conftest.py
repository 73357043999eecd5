"""Shared fixtures for the scripts' tests: a real moto server, boto3 clients against it,
locally built wheels (no network), small backends, and the host's runtime Python.

Reused by the deploy tests: `moto_server` (session, endpoint URL), `aws_client(service)`,
`aws_environ` (os.environ for a subprocess), `aws_env_vars` (in-process), `bucket`.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import socket
import subprocess
import uuid
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

TEST_REGION = "us-west-2"
TEST_CREDENTIALS: Mapping[str, str] = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": TEST_REGION,
}
# CI sets this: tests that need something missing fail there instead of skipping.
REQUIRE_ALL = os.environ.get("LAYERS_REQUIRE_E2E") == "1"


# --- moto server -------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """One real moto server (S3, Lambda, ... over HTTP) for the session; yields its URL.

    Started once (about a second); tests keep apart by their own bucket and resource names.
    Sets fake credentials in os.environ for the session so nothing can reach AWS.
    """
    from moto.server import ThreadedMotoServer

    for name, value in TEST_CREDENTIALS.items():
        os.environ[name] = value
    os.environ.pop("AWS_PROFILE", None)
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def make_client(service: str, endpoint: str) -> Any:
    """A boto3 client against `endpoint` with test credentials in us-west-2."""
    session = boto3.session.Session(
        aws_access_key_id=TEST_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=TEST_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=TEST_CREDENTIALS["AWS_SESSION_TOKEN"],
        region_name=TEST_REGION,
    )
    config = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2})
    return session.client(service, endpoint_url=endpoint, config=config)  # type: ignore[call-overload]


@pytest.fixture
def aws_client(moto_server: str) -> Callable[[str], Any]:
    """Factory: `aws_client("s3")`, a fresh client (its own event hooks) per call."""
    return lambda service: make_client(service, moto_server)


def aws_environ(endpoint: str, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Process environment for a subprocess that must talk to moto only."""
    environ = dict(os.environ if base is None else base)
    environ.update(TEST_CREDENTIALS)
    environ["AWS_ENDPOINT_URL"] = endpoint
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        environ.pop(name, None)
    return environ


@pytest.fixture
def aws_env_vars(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """In-process: boto3's standard settings point at moto (for `scripts.cli.main`)."""
    for name, value in TEST_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    # Clients made through boto3's default session must see the variables set above.
    boto3.DEFAULT_SESSION = None
    yield moto_server
    boto3.DEFAULT_SESSION = None


@pytest.fixture
def bucket(aws_client: Callable[[str], Any]) -> str:
    """A fresh, empty bucket in the shared moto server."""
    name = f"test-{uuid.uuid4().hex[:16]}"
    aws_client("s3").create_bucket(
        Bucket=name, CreateBucketConfiguration={"LocationConstraint": TEST_REGION}
    )
    return name


# --- wheels built locally ----------------------------------------------------------------


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return f"sha256={digest.decode()}"


def write_wheel(
    directory: Path,
    name: str,
    version: str,
    *,
    tag: str = "py3-none-any",
    files: Mapping[str, str] | None = None,
    requires: Sequence[str] = (),
    console_scripts: Mapping[str, str] | None = None,
    executable: Sequence[str] = (),
) -> Path:
    """A minimal valid wheel; `files` maps archive paths to text (default: NAME/__init__.py)."""
    dist_info = f"{name}-{version}.dist-info"
    contents: dict[str, bytes] = {
        path: text.encode()
        for path, text in (files or {f"{name}/__init__.py": f"VERSION = {version!r}\n"}).items()
    }
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    metadata += "".join(f"Requires-Dist: {req}\n" for req in requires)
    contents[f"{dist_info}/METADATA"] = metadata.encode()
    purelib = "true" if tag.endswith("-any") else "false"
    contents[f"{dist_info}/WHEEL"] = (
        f"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: {purelib}\nTag: {tag}\n"
    ).encode()
    if console_scripts:
        lines = "".join(f"{k} = {v}\n" for k, v in console_scripts.items())
        contents[f"{dist_info}/entry_points.txt"] = f"[console_scripts]\n{lines}".encode()
    record = "".join(
        f"{path},{_record_hash(data)},{len(data)}\n" for path, data in contents.items()
    )
    contents[f"{dist_info}/RECORD"] = (record + f"{dist_info}/RECORD,,\n").encode()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}-{version}-{tag}.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for arcname, data in contents.items():
            info = zipfile.ZipInfo(arcname, date_time=(2024, 5, 1, 12, 0, 0))
            mode = 0o755 if arcname in executable else 0o644
            info.external_attr = (0o100000 | mode) << 16
            archive.writestr(info, data)
    return path


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Local wheels: alpha (needs beta, has a console script, ships bytecode), beta,
    gamma (x86_64-only binary), and a pure `cli_only` with no importable package issue."""
    directory = tmp_path_factory.mktemp("wheelhouse")
    write_wheel(
        directory,
        "alpha",
        "1.0",
        requires=["beta"],
        files={
            "alpha/__init__.py": "from beta import VALUE\nVERSION = '1.0'\n",
            "alpha/cli.py": "def main() -> None:\n    print('alpha')\n",
            "alpha/__pycache__/cli.cpython-311.pyc": "not really bytecode",
            "alpha/data/run.sh": "#!/bin/sh\necho run\n",
        },
        console_scripts={"alpha": "alpha.cli:main"},
        executable=["alpha/data/run.sh"],
    )
    write_wheel(directory, "beta", "2.0", files={"beta.py": "VALUE = 42\n"})
    write_wheel(
        directory,
        "gamma",
        "3.0",
        tag="cp312-cp312-manylinux_2_17_x86_64",
        files={"gamma/__init__.py": "VERSION = '3.0'\n", "gamma/_speed.so": "\x7fELF fake"},
    )
    write_wheel(
        directory, "big", "1.0", files={"big/__init__.py": "", "big/blob.txt": "x" * 50_000}
    )
    return directory


def wheel_sha256(wheelhouse: Path, name: str, version: str) -> str:
    (path,) = wheelhouse.glob(f"{name}-{version}-*.whl")
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    main: bool = True


@dataclass
class BackendFactory:
    """Writes a small backend (app/, lambdas/, VERSION, poetry.lock, requirements.txt)."""

    wheelhouse: Path
    root: Path
    made: list[Path] = field(default_factory=list)

    def __call__(
        self,
        pins: Sequence[Pin | tuple[str, str]],
        *,
        requirement_pins: Sequence[tuple[str, str]] | None = None,
        hashes: bool = True,
        name: str | None = None,
    ) -> Path:
        backend = self.root / (name or f"backend-{len(self.made)}")
        self.made.append(backend)
        (backend / "app").mkdir(parents=True)
        (backend / "app" / "__init__.py").write_text("")
        (backend / "app" / "main.py").write_text("def handler(event, context):\n    return 1\n")
        (backend / "lambdas" / "cleanup").mkdir(parents=True)
        (backend / "lambdas" / "__init__.py").write_text("")
        (backend / "lambdas" / "cleanup" / "__init__.py").write_text("")
        (backend / "lambdas" / "cleanup" / "handler.py").write_text(
            "def handler(event, context):\n    return 2\n"
        )
        (backend / "VERSION").write_text("0.1.0\n")
        normalised = [p if isinstance(p, Pin) else Pin(*p) for p in pins]
        lock = ["# test lock\n\n"]
        for pin in normalised:
            groups = '["main"]' if pin.main else '["dev"]'
            lock.append(
                f'[[package]]\nname = "{pin.name}"\nversion = "{pin.version}"\n'
                f"optional = false\ngroups = {groups}\nfiles = []\n\n"
            )
        (backend / "poetry.lock").write_text("".join(lock))
        wanted = (
            requirement_pins
            if requirement_pins is not None
            else [(p.name, p.version) for p in normalised if p.main]
        )
        lines = []
        for req_name, version in wanted:
            line = f"{req_name}=={version}"
            if hashes:
                found = list(self.wheelhouse.glob(f"{req_name}-{version}-*.whl"))
                digest = hashlib.sha256(found[0].read_bytes()).hexdigest() if found else "0" * 64
                line += f" \\\n    --hash=sha256:{digest}"
            lines.append(line)
        (backend / "requirements.txt").write_text("\n".join(lines) + "\n")
        return backend


@pytest.fixture
def make_backend(wheelhouse: Path, tmp_path: Path) -> BackendFactory:
    return BackendFactory(wheelhouse=wheelhouse, root=tmp_path / "backends")


def offline_args(wheelhouse: Path) -> tuple[str, ...]:
    return ("--no-index", "--find-links", str(wheelhouse))


# --- the runtime's Python on this host ---------------------------------------------------


def find_python(version: str) -> str | None:
    """A working `pythonX.Y` from PATH or pyenv; pyenv shims that fail are ignored."""
    candidates: list[str] = []
    on_path = shutil.which(f"python{version}")
    if on_path:
        candidates.append(on_path)
    pyenv = shutil.which("pyenv")
    if pyenv:
        root = subprocess.run([pyenv, "root"], capture_output=True, text=True, check=False)
        versions = Path(root.stdout.strip()) / "versions"
        if versions.is_dir():
            candidates.extend(
                str(path) for path in sorted(versions.glob(f"{version}*/bin/python{version}"))
            )
    for candidate in candidates:
        probe = subprocess.run(
            [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode == 0 and probe.stdout.strip() == version:
            return candidate
    return None


@pytest.fixture(scope="session")
def python312() -> str:
    found = find_python("3.12")
    if found is None:
        message = "python3.12 not found (PATH or pyenv): install it to run the import smoke test"
        if REQUIRE_ALL:
            pytest.fail(message)
        pytest.skip(message)
    return found
