"""A small backend whose dependencies are wheels written here: terraform tests stay offline
and fast (no package index, a layer of a few kB).
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import zipfile
from pathlib import Path

from environments import ENVIRONMENTS

ENV = ENVIRONMENTS["local"]


def write_wheel(directory: Path, name: str, version: str) -> Path:
    dist_info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f"VERSION = {version!r}\n".encode(),
        f"{dist_info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
        ),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: e2e\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n",
    }
    record = ""
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record += f"{path},sha256={digest},{len(data)}\n"
    files[f"{dist_info}/RECORD"] = (record + f"{dist_info}/RECORD,,\n").encode()
    wheel = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in files.items():
            archive.writestr(zipfile.ZipInfo(path, date_time=(2024, 1, 1, 0, 0, 0)), data)
    return wheel


def write_deps(backend: Path, wheels: Path, pins: list[tuple[str, str]]) -> None:
    """A Poetry 2 lock (lock-version 2.1) with each wheel's hash, for `pins`."""
    lock = "# e2e lock\n\n"
    for name, version in pins:
        wheel = wheels / f"{name}-{version}-py3-none-any.whl"
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        lock += (
            f'[[package]]\nname = "{name}"\nversion = "{version}"\noptional = false\n'
            f'groups = ["main"]\nfiles = [{{file = "{wheel.name}", hash = "sha256:{digest}"}}]\n\n'
        )
    lock += '[metadata]\nlock-version = "2.1"\npython-versions = "^3.10"\n'
    (backend / "poetry.lock").write_text(lock)


# The four entry points the environments configure, importing only what the layer holds
# (a migration checks that every handler imports from package + layer alone).
_HANDLER = "import e2e_alpha\n\n\ndef handler(event, context):\n    return {{'ok': {name!r}}}\n"
_MODULES = {
    "app/__init__.py": "",
    "app/main.py": _HANDLER.format(name="api"),
    "lambdas/__init__.py": "",
    "lambdas/cleanup/__init__.py": "",
    "lambdas/cleanup/handler.py": _HANDLER.format(name="cleanup"),
    "lambdas/db_sync/__init__.py": "",
    "lambdas/db_sync/handler.py": _HANDLER.format(name="db-sync"),
    "lambdas/eval_runbook_worker/__init__.py": "",
    "lambdas/eval_runbook_worker/handler.py": _HANDLER.format(name="eval-runbook-worker"),
}


def make_backend(root: Path, wheels: Path) -> Path:
    backend = root / "backend"
    for relative, text in _MODULES.items():
        path = backend / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    shutil.copy(ENV.backend_dir / "VERSION", backend / "VERSION")
    write_deps(backend, wheels, [("e2e_alpha", "1.0")])
    return backend
