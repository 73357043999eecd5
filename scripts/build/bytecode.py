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

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from scripts import settings
from scripts.build.build_cache import BuildCache, digest
from scripts.errors import BadInputError, ToolError

INVALIDATION = "unchecked-hash"
# Where Lambda mounts the layer's python/ directory: tracebacks name these paths.
RUNTIME_ROOT = "/opt/python"
# Level 0 (no -O): Lambda runs Python without optimisations, so it looks up `X.cpython-312.pyc`.
OPTIMIZE = 0

# What `compileall.compile_dir(site, ddir=/opt/python, invalidation_mode=UNCHECKED_HASH)`
# does for each file, for just the files the cache does not have: jobs on stdin.
_COMPILE = """
import json, py_compile, sys
from concurrent.futures import ProcessPoolExecutor

def one(job):
    source, cfile, dfile = job
    try:
        py_compile.compile(source, cfile=cfile, dfile=dfile, doraise=True, optimize=0,
            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    except (py_compile.PyCompileError, SyntaxError, UnicodeDecodeError, ValueError):
        pass  # not valid for this Python: left without bytecode, as the runtime would

jobs = json.load(sys.stdin)
workers = int(sys.argv[1])
if workers > 1 and len(jobs) > 50:
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(one, jobs, chunksize=32))
else:
    for job in jobs:
        one(job)
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
    configured = settings.python_override(minor)
    if configured:
        found.append(configured)
    on_path = shutil.which(f"python{minor}")
    if on_path:
        found.append(on_path)
    pyenv_root = settings.PYENV_ROOT.read()
    found.extend(str(p) for p in sorted(pyenv_root.glob(f"versions/{minor}*/bin/python{minor}")))
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
    variable = settings.python_variable(minor)
    raise BadInputError(
        f"bytecode for python{minor} needs a Python {minor} interpreter and none was found "
        f"(PATH, pyenv, /usr/bin): install one (`uv python install {minor}`, `pyenv install "
        f"{minor}`, `apt-get install python{minor}`) and put python{minor} on PATH or set "
        f"{variable}=/path/to/python{minor}; or build with --no-bytecode"
    )


@dataclass(frozen=True, kw_only=True)
class _Job:
    source: Path
    cfile: Path
    dfile: str
    key: str | None


def _jobs(site_dir: Path, interpreter: Interpreter, cache: BuildCache | None) -> list[_Job]:
    tag = "cpython-" + "".join(interpreter.version.split(".")[:2])
    jobs = []
    for source in sorted(site_dir.rglob("*.py")):
        if not source.is_file():
            continue
        relative = source.relative_to(site_dir).as_posix()
        dfile = f"{RUNTIME_ROOT}/{relative}"
        key = None
        if cache is not None:
            key = digest(
                b"pyc", interpreter.version.encode(), INVALIDATION.encode(), dfile.encode(),
                source.read_bytes(),
            )  # fmt: skip
        cfile = source.parent / "__pycache__" / f"{source.stem}.{tag}.pyc"
        jobs.append(_Job(source=source, cfile=cfile, dfile=dfile, key=key))
    return jobs


def compile_tree(
    site_dir: Path,
    interpreter: Interpreter,
    *,
    workers: int | None = None,
    cache: BuildCache | None = None,
) -> int:
    """Compile every module under `site_dir` in place; returns how many .pyc there are.

    Files that do not compile with this Python (test data, Python 2 leftovers) are left
    without bytecode, as the runtime would leave them: that is not an error. With a
    `cache`, a module compiled before (same source, path, Python) is copied, not compiled.
    """
    jobs = _jobs(site_dir, interpreter, cache)
    missing = []
    for job in jobs:
        cached = cache.get("pyc", job.key) if cache is not None and job.key else None
        if cached is None:
            missing.append(job)
            continue
        job.cfile.parent.mkdir(exist_ok=True)
        job.cfile.write_bytes(cached)
    if missing:
        _run_compiler(missing, interpreter, workers)
    for job in missing:
        if cache is not None and job.key and job.cfile.is_file():
            cache.put("pyc", job.key, job.cfile.read_bytes())
    return sum(1 for job in jobs if job.cfile.is_file())


def _run_compiler(jobs: list[_Job], interpreter: Interpreter, workers: int | None) -> None:
    environ = {k: v for k, v in settings.child_environ().items() if not k.startswith("PYTHON")}
    # Sets of constants are marshalled in iteration order, which follows string hashing.
    environ["PYTHONHASHSEED"] = "0"
    count = str(workers or min(4, os.cpu_count() or 1))
    payload = json.dumps([[str(j.source), str(j.cfile), j.dfile] for j in jobs])
    completed = subprocess.run(
        [interpreter.path, "-I", "-S", "-c", _COMPILE, count],
        input=payload,
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
