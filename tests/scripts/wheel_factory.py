"""Test builders without pytest: local wheels, small backends, the host's runtime Python.

A plain module (not conftest) so test modules import these names from one place.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from scripts.builder.bytecode import find_interpreter
from scripts.errors import BadInputError


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


def wheel_sha256(wheelhouse: Path, name: str, version: str) -> str:
    (path,) = wheelhouse.glob(f"{name}-{version}-*.whl")
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    main: bool = True
    marker: str | None = None


def lock_text(
    wheelhouse: Path, pins: Sequence[Pin], *, hashes: bool = True, python: str = "~3.12"
) -> str:
    """A Poetry 2 lock (lock-version 2.1) for `pins`, with the local wheels' hashes."""
    lock = ["# test lock\n\n"]
    for pin in pins:
        groups = '["main"]' if pin.main else '["dev"]'
        files = []
        if hashes:
            for wheel in sorted(wheelhouse.glob(f"{pin.name}-{pin.version}-*.whl")):
                digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
                files.append(f'{{file = "{wheel.name}", hash = "sha256:{digest}"}}')
        marker = f"markers = {json.dumps(pin.marker)}\n" if pin.marker else ""
        lock.append(
            f'[[package]]\nname = "{pin.name}"\nversion = "{pin.version}"\n'
            f"optional = false\ngroups = {groups}\n{marker}files = [{', '.join(files)}]\n\n"
        )
    lock.append(f'[metadata]\nlock-version = "2.1"\npython-versions = "{python}"\n')
    return "".join(lock)


def requirements_text(
    wheelhouse: Path, pins: Sequence[tuple[str, str]], *, hashes: bool = True
) -> str:
    lines = []
    for req_name, version in pins:
        line = f"{req_name}=={version}"
        if hashes:
            found = list(wheelhouse.glob(f"{req_name}-{version}-*.whl"))
            digest = hashlib.sha256(found[0].read_bytes()).hexdigest() if found else "0" * 64
            line += f" \\\n    --hash=sha256:{digest}"
        lines.append(line)
    return "\n".join(lines) + "\n"


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
        for module in ("cleanup", "db_sync", "eval_runbook_worker"):
            (backend / "lambdas" / module).mkdir(parents=True)
            (backend / "lambdas" / module / "__init__.py").write_text("")
            (backend / "lambdas" / module / "handler.py").write_text(
                "def handler(event, context):\n    return 2\n"
            )
        (backend / "lambdas" / "__init__.py").write_text("")
        (backend / "VERSION").write_text("0.1.0\n")
        normalised = [p if isinstance(p, Pin) else Pin(*p) for p in pins]
        (backend / "poetry.lock").write_text(lock_text(self.wheelhouse, normalised, hashes=hashes))
        wanted = (
            requirement_pins
            if requirement_pins is not None
            else [(p.name, p.version) for p in normalised if p.main]
        )
        (backend / "requirements.txt").write_text(
            requirements_text(self.wheelhouse, wanted, hashes=hashes)
        )
        return backend


def offline_args(wheelhouse: Path) -> tuple[str, ...]:
    return ("--no-index", "--find-links", str(wheelhouse))


def find_python(version: str) -> str | None:
    """A working `pythonX.Y` (PATH, pyenv, system dirs), as the bytecode step finds it."""
    try:
        return find_interpreter(version).path
    except BadInputError:
        return None


def top_level_modules(site: Path) -> list[str]:
    names = set()
    for path in site.iterdir():
        if path.name.endswith(".dist-info") or path.name.startswith(("_", ".")):
            continue
        if path.is_dir() and (path / "__init__.py").is_file():
            names.add(path.name)
        elif path.suffix == ".py":
            names.add(path.stem)
    return sorted(names)


def assert_imports_alone(python: str, site: Path, versions: dict[str, str]) -> None:
    """Import every top-level package with `python -I -S`: stdlib plus the layer, nothing else."""
    modules = top_level_modules(site)
    assert modules
    script = (
        "import importlib, importlib.metadata, json, sys\n"
        f"sys.path.insert(0, {str(site)!r})\n"
        "assert not any('site-packages' in p for p in sys.path), sys.path\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(json.dumps({{d: importlib.metadata.version(d) for d in {sorted(versions)!r}}}))\n"
    )
    completed = subprocess.run(
        [python, "-I", "-S", "-c", script], capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout) == versions
