"""`invoke`: run one function's handler locally, like `sam local invoke`, without Docker.

The layer comes from the local store (built into it on a miss, reused on a hit, as `demo`
does) and the package is zipped from the checked-out backend; both are extracted under
the build directory and the handler runs under the runtime's own Python (`-I -S -B`:
no user site, no site-packages, no bytecode writes) with only the package and the
layer's `python/` on `sys.path`, the function's configured environment variables and the
Lambda variables a handler commonly reads. So an import the layer cannot satisfy fails
here, naming the missing distribution, instead of on the first cold start.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from environments import Environment, FunctionConfig
from scripts import progress
from scripts.build.backend import PackageSource, zip_package
from scripts.build.bytecode import find_interpreter
from scripts.build.handlers import check_handlers
from scripts.build.install_requests import layer_request
from scripts.build.layer import build_layer
from scripts.errors import BadInputError, ToolError
from scripts.local.import_hints import missing_distribution
from scripts.local.runtime import Runtime, extract, run_handler
from scripts.store import LocalStore

_MACHINE = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}


@dataclass(frozen=True, kw_only=True)
class InvokeRequest:
    env: Environment
    function: str
    event: Any
    store: LocalStore
    build_dir: Path
    architecture: str | None = None
    version: str | None = None
    index_args: tuple[str, ...] = ()
    # Import the handler's module and find the function, without calling it (a migration
    # checks every function this way before any of them runs the new package).
    import_only: bool = False
    # False for another backend than the environment's (--backend-dir): its layer is
    # stored under its content-addressed key only, `layer.zip` is left alone.
    own_backend: bool = True


def function_config(env: Environment, name: str) -> FunctionConfig:
    for function in env.released_functions:
        if name in (function.name, env.function_name(function.name)):
            return function
    # A function with its own package (package = "own") is not in the shared one.
    names = ", ".join(f.name for f in env.released_functions)
    raise BadInputError(f"{env.name}: no function {name!r}; configured: {names}")


def read_event(spec: str | None, stdin_text: str | None = None) -> Any:
    """`--event FILE`, `-` for standard input, or nothing (an empty event, `{}`)."""
    if spec is None:
        return {}
    where = "standard input" if spec == "-" else spec
    try:
        text = stdin_text if spec == "-" else Path(spec).read_text(encoding="utf-8")
        return json.loads(text or "")
    except (OSError, UnicodeDecodeError) as err:
        raise BadInputError(f"--event {where}: cannot read ({err}): pass a JSON file") from None
    except json.JSONDecodeError as err:
        raise BadInputError(f"--event {where}: not JSON ({err}): pass a JSON event") from None


def _child_environ(env: Environment, function: FunctionConfig, task_root: Path) -> dict[str, str]:
    """What Lambda sets (the part handlers read), the function's variables, AWS settings."""
    passed = {k: v for k, v in os.environ.items() if k.startswith("AWS_") or k in {"PATH", "HOME"}}
    return {
        **passed,
        "AWS_REGION": env.region,
        "AWS_DEFAULT_REGION": env.region,
        "AWS_LAMBDA_FUNCTION_NAME": env.function_name(function.name),
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{env.runtime}",
        "LAMBDA_TASK_ROOT": str(task_root),
        "TZ": ":UTC",
        **function.environment,
    }


def _import_failure(report: Mapping[str, Any], function: FunctionConfig, layer: Path) -> ToolError:
    module = str(report.get("module") or "")
    where = f"function {function.name} (handler {function.handler})"
    provider, hint = missing_distribution(module, layer)
    if provider:
        return ToolError(
            f"{where}: importing {module!r} from {provider} in the layer failed "
            f"({report['type']}: {report['message']}): check that distribution's wheel for the "
            "runtime and architecture"
        )
    return BadInputError(
        f"{where}: {report['type']}: {report['message']}: no distribution in the layer "
        f"provides {module!r}{hint}: add it to the backend's dependencies and lock again"
    )


def invoke(request: InvokeRequest) -> dict[str, Any]:
    env = request.env
    function = function_config(env, request.function)
    architecture = request.architecture or env.architecture
    here = _MACHINE.get(platform.machine().lower(), platform.machine())
    if here != architecture:
        raise BadInputError(
            f"invoke runs the handler on this {here} machine, and a {architecture} layer's "
            f"compiled modules cannot load here: pass --arch {here} (or invoke on {architecture})"
        )
    python = find_interpreter(env.runtime.removeprefix("python"))
    source = PackageSource.resolve(
        env.backend_dir, env.backend.package, version=request.version, environment=env.name
    )
    root = request.build_dir / "invoke"
    layer = build_layer(
        layer_request(
            env,
            build_dir=root,
            manifest_path=root / "layer-manifest.json",
            architecture=architecture,
            index_args=request.index_args,
            own_backend=request.own_backend,
        ),
        request.store,
    )
    layer_hash = str(layer.manifest["hash"])
    layer_dir = extract(
        request.store.root / f"layer-{layer_hash}.zip", root / f"layer-{layer_hash}"
    )
    with tempfile.TemporaryDirectory(prefix="invoke-", dir=root) as tmp:
        built, entries = zip_package(source, Path(tmp) / "backend.zip")
        check_handlers([function], entries)
        package_dir = extract(built.path, root / f"backend-{built.sha256[:16]}")
        progress.say(f"invoke {function.name}: {function.handler} with Python {python.version}")
        runtime = Runtime(
            python=str(python.path),
            package_dir=package_dir,
            layer_paths=(layer_dir / "python",),
            handler=function.handler,
            function_name=env.function_name(function.name),
            memory_mb=function.memory_mb,
            timeout_s=function.timeout_s,
            environ=_child_environ(env, function, package_dir),
        )
        ran = run_handler(
            runtime, request.event, scratch=Path(tmp), import_only=request.import_only
        )
        if ran.timed_out:
            raise ToolError(
                f"function {function.name}: timed out after {function.timeout_s} s "
                "(its configured timeout)"
            )
        for line in ran.output.splitlines():
            progress.say(f"  | {line}")  # the handler's own output, as its log would show it
        if ran.report is None:
            raise ToolError(
                f"function {function.name}: the runtime exited {ran.returncode} without a "
                "result: see its output above"
            )
        report = ran.report
    if report.get("error") == "import":
        raise _import_failure(report, function, layer_dir / "python")
    if report.get("error") == "handler":
        for line in str(report["trace"]).rstrip().splitlines():
            progress.say(f"  | {line}")
        raise ToolError(f"function {function.name}: {report['type']}: {report['message']}")
    return {
        "function": function.name,
        "handler": function.handler,
        "python": python.version,
        "layer_hash": layer_hash,
        "layer_built": layer.built,
        "package_hash": built.sha256[:16],
        "duration_ms": report["duration_ms"],
        "result": report["result"],
    }
