"""Bytecode for the runtime: compiled once at build time, never again on a cold start.

Lambda mounts layers read-only under /opt, so Python cannot cache the bytecode it compiles
there: a layer without `.pyc` files is compiled again on every cold start (measured here:
2.13 s of CPU importing sqlalchemy, pydantic, httpx and boto3, against 0.84 s with
bytecode). The files must come from the runtime's own minor version (the magic number is
per minor), and must not depend on the build: `unchecked-hash` invalidation stores no
source mtime (Python then trusts them without stat-ing the source, right for read-only
files), the recorded file names are the paths Lambda sees (`/opt/python/...`), and hash
randomization is fixed so sets of constants marshal in one order.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from scripts.errors import BadInputError, ToolError

INVALIDATION = "unchecked-hash"
# Where Lambda mounts the layer's python/ directory: tracebacks name these paths.
RUNTIME_ROOT = "/opt/python"
# Level 0 (no -O): Lambda runs Python without optimisations, so it looks up `X.cpython-312.pyc`.
OPTIMIZE = 0

_COMPILE = """
import compileall, py_compile, sys
ok = compileall.compile_dir(
    sys.argv[1], ddir=sys.argv[2], quiet=2, workers=int(sys.argv[3]), optimize=0,
    invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
)
"""


@dataclass(frozen=True, kw_only=True)
class Interpreter:
    path: str
    version: str  # "3.12.1"


def bytecode_key(python_version: str) -> dict[str, object]:
    """What the cache key records: the minor version decides the bytecode format."""
    return {"python": python_version, "invalidation": INVALIDATION, "optimize": OPTIMIZE}


def _candidates(minor: str) -> list[str]:
    found: list[str] = []
    configured = os.environ.get(f"LAYERS_PYTHON_{minor.replace('.', '_')}")
    if configured:
        found.append(configured)
    on_path = shutil.which(f"python{minor}")
    if on_path:
        found.append(on_path)
    pyenv_root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    found.extend(
        str(p) for p in sorted(Path(pyenv_root).glob(f"versions/{minor}*/bin/python{minor}"))
    )
    for prefix in ("/usr/bin", "/usr/local/bin", "/opt/homebrew/bin"):
        found.append(f"{prefix}/python{minor}")
    return found


def find_interpreter(minor: str) -> Interpreter:
    """A working `pythonX.Y` (exactly that minor): env override, PATH, pyenv, system dirs.

    pyenv's shims are on PATH even when the version is not installed; a candidate counts
    only if it runs and reports the right version.
    """
    seen: set[str] = set()
    for candidate in _candidates(minor):
        if candidate in seen or not Path(candidate).is_file():
            continue
        seen.add(candidate)
        probe = subprocess.run(
            [candidate, "-I", "-S", "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
            capture_output=True,
            text=True,
            check=False,
        )
        version = probe.stdout.strip()
        if probe.returncode == 0 and version.rsplit(".", 1)[0] == minor:
            return Interpreter(path=candidate, version=version)
    variable = f"LAYERS_PYTHON_{minor.replace('.', '_')}"
    raise BadInputError(
        f"bytecode for python{minor} needs a Python {minor} interpreter and none was found "
        f"(PATH, pyenv, /usr/bin): install one (`uv python install {minor}`, `pyenv install "
        f"{minor}`, `apt-get install python{minor}`) and put python{minor} on PATH or set "
        f"{variable}=/path/to/python{minor}; or build with --no-bytecode"
    )


def compile_tree(site_dir: Path, interpreter: Interpreter, *, workers: int | None = None) -> int:
    """Compile every module under `site_dir` in place; returns how many .pyc were written.

    Files that do not compile with this Python (test data, Python 2 leftovers) are left
    without bytecode, as the runtime would leave them: that is not an error.
    """
    environ = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("PYTHON") or key == "PYTHONPATH"
    }
    environ.pop("PYTHONPATH", None)
    environ["PYTHONHASHSEED"] = "0"
    count = str(workers or min(4, os.cpu_count() or 1))
    completed = subprocess.run(
        [interpreter.path, "-I", "-S", "-c", _COMPILE, str(site_dir), RUNTIME_ROOT, count],
        capture_output=True,
        text=True,
        check=False,
        env=environ,
    )
    if completed.returncode != 0:
        lines = [line for line in completed.stderr.splitlines() if line.strip()]
        raise ToolError(
            f"compiling bytecode with {interpreter.path} failed: {' | '.join(lines[-3:])}: "
            "rerun, or build with --no-bytecode"
        )
    return sum(1 for _ in site_dir.rglob("*.pyc"))
