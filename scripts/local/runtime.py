"""The runtime a handler runs in without Docker: the runtime's Python in a fresh process.

`-I -S -B` (no user site, no site-packages, no bytecode writes) with only the package and
each layer's `python/` on `sys.path`, the environment variables given, a Lambda-like
context object and the configured timeout. Shared by `python -m scripts invoke` and the
tests' Lambda double (which answers `Invoke` with it), so a layer that misses a module
fails the same way in both.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_RUNNER = r"""
import importlib, json, os, sys, time, traceback, uuid
(package, layers, handler, event_path, out_path, name, memory, timeout, only,
 version) = sys.argv[1:11]
sys.path[:0] = [package, *[p for p in layers.split(os.pathsep) if p]]
deadline = time.monotonic() + float(timeout)


class Context:
    function_name = name
    function_version = version
    memory_limit_in_mb = int(memory)
    aws_request_id = str(uuid.uuid4())
    invoked_function_arn = f"arn:aws:lambda:local:000000000000:function:{name}"
    log_group_name = f"/aws/lambda/{name}"
    log_stream_name = "local"

    def get_remaining_time_in_millis(self):
        return max(0, int((deadline - time.monotonic()) * 1000))


def write(payload):
    with open(out_path, "w", encoding="utf-8") as out:
        json.dump(payload, out, default=str)


module_name, _, attribute = handler.rpartition(".")
try:
    module = importlib.import_module(module_name)
except ImportError as err:
    write({"error": "import", "type": type(err).__name__, "module": err.name,
           "message": str(err), "trace": traceback.format_exc()})
    sys.exit(3)
if only == "1":
    if not callable(getattr(module, attribute, None)):
        write({"error": "handler", "type": "AttributeError", "trace": "",
               "message": f"module {module_name!r} has no function {attribute!r}"})
        sys.exit(4)
    write({"result": {"imported": handler}, "duration_ms": 0})
    sys.exit(0)
with open(event_path, encoding="utf-8") as source:
    event = json.load(source)
started = time.perf_counter()
try:
    result = getattr(module, attribute)(event, Context())
except Exception as err:
    write({"error": "handler", "type": type(err).__name__, "message": str(err),
           "trace": traceback.format_exc()})
    sys.exit(4)
write({"result": result, "duration_ms": round((time.perf_counter() - started) * 1000, 1)})
"""


def extract(archive: Path, dest: Path) -> Path:
    """Extract once per content hash (the directory name carries it)."""
    if dest.is_dir():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    with zipfile.ZipFile(archive) as opened:
        opened.extractall(staging)
    staging.replace(dest)
    return dest


@dataclass(frozen=True, kw_only=True)
class Runtime:
    """What one handler runs with: the runtime's Python, the extracted package and layers."""

    python: str
    package_dir: Path
    # Each layer's `python/` directory, in the function's layer order.
    layer_paths: tuple[Path, ...]
    handler: str
    function_name: str
    memory_mb: int
    timeout_s: float
    environ: Mapping[str, str]
    version: str = "$LATEST"


@dataclass(frozen=True, kw_only=True)
class HandlerRun:
    """What the runtime reported (None when it died or timed out) and what it printed."""

    report: Mapping[str, Any] | None
    output: str
    returncode: int | None
    timed_out: bool = False


def run_handler(
    runtime: Runtime, event: Any, *, scratch: Path, import_only: bool = False
) -> HandlerRun:
    """Run the handler once in a fresh process of the runtime's Python (`-I -S -B`).

    Shared by `invoke` and the tests' Lambda double, so a layer that misses a module
    fails the same way in both. `scratch`: a directory for the event and the result.
    """
    event_path, out_path = scratch / "event.json", scratch / "result.json"
    event_path.write_text(json.dumps(event), encoding="utf-8")
    out_path.unlink(missing_ok=True)
    # Lambda extracts layers in order into /opt, a later one's files winning: first here.
    layers = os.pathsep.join(str(p) for p in reversed(runtime.layer_paths))
    try:
        completed = subprocess.run(
            [
                runtime.python, "-I", "-S", "-B", "-c", _RUNNER,
                str(runtime.package_dir), layers, runtime.handler, str(event_path),
                str(out_path), runtime.function_name, str(runtime.memory_mb),
                str(runtime.timeout_s), "1" if import_only else "0", runtime.version,
            ],
            cwd=runtime.package_dir,
            env=dict(runtime.environ),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=runtime.timeout_s,
            check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired as err:
        output = err.stdout if isinstance(err.stdout, str) else (err.stdout or b"").decode()
        return HandlerRun(report=None, output=output, returncode=None, timed_out=True)
    report = json.loads(out_path.read_text(encoding="utf-8")) if out_path.is_file() else None
    return HandlerRun(report=report, output=completed.stdout, returncode=completed.returncode)
