"""Figures for issue 12: bytecode at cold start, and the realistic backend against pip.

- Cold import from a read-only layer: python3.12 imports sqlalchemy, pydantic, httpx and
  boto3 from the example layer built without and with bytecode, with `-B` (Lambda's /opt
  is read-only: nothing compiled there is kept). CPU seconds (user + sys) of the child,
  the cost every cold start pays.
- The realistic backend (examples/fastapi-backend, 29 runtime pins from its uv.lock):
  our build-layer (bytecode on, the default) against `pip install --target` with every
  manylinux tag glibc 2.34 accepts, `--only-binary`, the same pins and hashes, plus the
  zip, each cold (empty caches: uv's, pip's and our build cache) and warm; and our cache hit.
  pip keeps its default of compiling bytecode (for the host's Python: useless on Lambda,
  but the same work ours does for the runtime). Runs alternate between the two tools, so
  load from other processes on a shared machine falls on both alike.
"""

from __future__ import annotations

import resource
import shutil
import statistics
import subprocess
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench import say
from bench.figures import (
    _ZIP,
    BuildRun,
    Context,
    build_layer,
    check_same_packages,
    pip_install_command,
    skipped,
)
from bench.measure import BenchError, run_timed
from bench.results import Figure
from bench.workspace import VENV_PYTHON, fresh_dir, pinned_requirements, pip_environ
from environments import REPO_ROOT
from scripts.builder.bytecode import find_interpreter
from scripts.errors import BadInputError

REALISTIC = REPO_ROOT / "examples" / "fastapi-backend"
IMPORTS = "import sqlalchemy, pydantic, httpx, boto3"
KEYS = (
    ("cold_import_no_bytecode", "cold import, read-only layer without bytecode (CPU)", "s"),
    ("cold_import_bytecode", "cold import, read-only layer with bytecode (CPU)", "s"),
    ("realistic_build_cold_ours", "realistic backend: build-layer, empty caches", "s"),
    ("realistic_build_cold_pip", "realistic backend: pip --platform + zip, empty cache", "s"),
    ("realistic_build_warm_ours", "realistic backend: build-layer, warm caches", "s"),
    ("realistic_build_warm_pip", "realistic backend: pip --platform + zip, warm cache", "s"),
    ("realistic_cache_hit", "realistic backend: build-layer cache hit (local store)", "s"),
    ("size_realistic_layer", "realistic layer zip (with bytecode)", "bytes"),
)


def _copy(dest: Path) -> Path:
    fresh_dir(dest)
    for name in ("app", "lambdas"):
        shutil.copytree(REALISTIC / name, dest / name)
    for name in ("VERSION", "uv.lock", "pyproject.toml"):
        shutil.copy2(REALISTIC / name, dest / name)
    return dest


def _cpu_seconds(command: list[str]) -> float:
    """User + system CPU of one child process (it must succeed)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise BenchError(f"{' '.join(command[:4])}: exit {done.returncode}: {done.stderr[-800:]}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _extract_read_only(store: Path, result: Mapping[str, Any], dest: Path) -> Path:
    fresh_dir(dest)
    with zipfile.ZipFile(store / f"layer-{result['hash']}.zip") as archive:
        archive.extractall(dest)
    for path in sorted(dest.rglob("*"), reverse=True):
        path.chmod(0o555 if path.is_dir() else 0o444)
    dest.chmod(0o555)
    return dest / "python"


def _make_writable(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        if path.is_dir():
            path.chmod(0o755)


def cold_import_figures(ctx: Context) -> list[Figure]:
    python = find_interpreter("3.12").path
    store = fresh_dir(ctx.work / "stores" / "cold-import")
    layers = {}
    for key, extra in (("no", ["--no-bytecode"]), ("yes", [])):
        run = build_layer(
            ctx, f"cold-import-{key}", backend=ctx.backends.layer_a, store=str(store), extra=extra
        )
        layers[key] = (run, _extract_read_only(store, run.result, ctx.work / f"opt-{key}"))
    figures = []
    for key, label in (("no", "cold_import_no_bytecode"), ("yes", "cold_import_bytecode")):
        run, site = layers[key]
        command = [
            python,
            "-I",
            "-S",
            "-B",
            "-c",
            f"import sys; sys.path.insert(0, {str(site)!r}); {IMPORTS}",
        ]
        _cpu_seconds(command)  # one untimed run: the page cache holds the files for both
        runs = tuple(_cpu_seconds(command) for _ in range(max(ctx.runs, 5)))
        say(f"    {label}: {statistics.median(runs):.2f} s CPU")
        figures.append(
            Figure(
                key=label,
                label=dict((k, v) for k, v, _ in KEYS)[label],
                unit="s",
                runs=runs,
                baseline=None if key == "no" else "cold_import_no_bytecode",
                details={
                    "imports": IMPORTS.removeprefix("import "),
                    "python": python,
                    "flags": "-I -S -B, layer read-only",
                    "unzipped_bytes": run.result["unzipped_bytes"],
                    "zip_bytes": run.result["zip_bytes"],
                },
            )
        )
    for key in layers:
        _make_writable(ctx.work / f"opt-{key}")
    return figures


def _pip_build(
    ctx: Context,
    name: str,
    requirements: Path,
    environ: Mapping[str, str],
    expected: Mapping[str, str],
) -> float:
    root = fresh_dir(ctx.work / "pip-realistic" / name)
    install = run_timed(
        pip_install_command(
            ctx,
            requirements=requirements,
            target=root / "python",
            runtime="python3.12",
            architecture="x86_64",
        ),
        env=environ,
        cwd=REPO_ROOT,
        what=f"pip install realistic {name}",
    )
    zipped = run_timed(
        [str(VENV_PYTHON), "-c", _ZIP, str(root / "layer"), str(root)],
        env=environ,
        cwd=REPO_ROOT,
        what=f"zip realistic {name}",
    )
    check_same_packages(f"pip realistic ({name})", root / "python", expected)
    return install.seconds + zipped.seconds


def _ours(
    ctx: Context, name: str, backend: Path, *, cold: bool, extra: list[str] | None = None
) -> BuildRun:
    environ = dict(ctx.environ)
    if cold:
        environ["UV_CACHE_DIR"] = str(fresh_dir(ctx.work / "uv-cache-cold"))
        environ["LAYERS_CACHE_DIR"] = str(fresh_dir(ctx.work / "layers-cache-cold"))
    run = build_layer(ctx, name, backend=backend, environ=environ, extra=extra or [])
    if run.result.get("built") is not True:
        raise BenchError(f"{name}: expected a build into an empty store")
    return run


def realistic_figures(ctx: Context) -> list[Figure]:
    """Every figure of this module; skipped in smoke mode (PyPI and python3.12 needed)."""
    if ctx.smoke:
        return [
            skipped(key, label, unit, "smoke mode (needs PyPI and python3.12)")
            for key, label, unit in KEYS
        ]
    try:
        find_interpreter("3.12")
    except BadInputError as err:
        return [skipped(key, label, unit, str(err)[:80]) for key, label, unit in KEYS]
    say("== cold import from a read-only layer, without and with bytecode")
    figures = cold_import_figures(ctx)
    say("== realistic backend (examples/fastapi-backend): ours against pip")
    backend = _copy(ctx.work / "backends" / "realistic")
    requirements = ctx.work / "backends" / "realistic-requirements.txt"
    requirements.write_text(pinned_requirements(backend), encoding="utf-8")

    cold: list[BuildRun] = []
    pip_cold: list[float] = []
    expected: Mapping[str, str] = {}
    for index in range(ctx.runs):
        cold.append(_ours(ctx, f"realistic-cold-{index}", backend, cold=True))
        expected = cold[0].result["packages"]
        pip_cache = fresh_dir(ctx.work / "pip-cache-cold")
        environ = pip_environ(ctx.environ, pip_cache=pip_cache)
        pip_cold.append(_pip_build(ctx, f"cold-{index}", requirements, environ, expected))
    warm_pip_env = pip_environ(ctx.environ, pip_cache=ctx.work / "pip-cache-realistic")
    _ours(ctx, "realistic-warm-up", backend, cold=False)  # fills uv's and our cache
    _pip_build(ctx, "warm-up", requirements, warm_pip_env, expected)  # fills pip's
    warm: list[BuildRun] = []
    pip_warm: list[float] = []
    for index in range(ctx.runs):
        warm.append(_ours(ctx, f"realistic-warm-{index}", backend, cold=False))
        pip_warm.append(_pip_build(ctx, f"warm-{index}", requirements, warm_pip_env, expected))
    no_bytecode = _ours(ctx, "realistic-no-bytecode", backend, cold=False, extra=["--no-bytecode"])

    store = str(ctx.work / "stores" / "realistic-warm-0")
    hits = []
    for index in range(max(ctx.runs, 3)):
        hit = build_layer(ctx, f"realistic-hit-{index}", backend=backend, store=store)
        if hit.result.get("built") is not False or hit.spawned:
            raise BenchError(f"realistic cache hit built or started processes: {hit.spawned}")
        hits.append(hit.timed.seconds)

    digests = {run.result["sha256"] for run in [*cold, *warm]}
    details = {
        "pins": len(expected),
        "same_sha256_every_run": len(digests) == 1,
        "bytecode": "on (cpython-312, unchecked-hash)",
    }
    pip_details = {
        "pip": "--platform manylinux_2_34..2_17 + 2014, --only-binary, --no-compile",
        "packages": len(expected),
    }
    layer = warm[0].result
    figures += [
        Figure(
            key="realistic_build_cold_ours",
            label=KEYS[2][1],
            unit="s",
            runs=tuple(r.timed.seconds for r in cold),
            baseline="realistic_build_cold_pip",
            details=details,
        ),
        Figure(
            key="realistic_build_cold_pip",
            label=KEYS[3][1],
            unit="s",
            runs=tuple(pip_cold),
            details=pip_details,
        ),
        Figure(
            key="realistic_build_warm_ours",
            label=KEYS[4][1],
            unit="s",
            runs=tuple(r.timed.seconds for r in warm),
            baseline="realistic_build_warm_pip",
            details=details,
        ),
        Figure(
            key="realistic_build_warm_pip",
            label=KEYS[5][1],
            unit="s",
            runs=tuple(pip_warm),
            details=pip_details,
        ),
        Figure(
            key="realistic_cache_hit",
            label=KEYS[6][1],
            unit="s",
            runs=tuple(hits),
            details={"built": False, "processes_started": 0},
        ),
        Figure(
            key="size_realistic_layer",
            label=KEYS[7][1],
            unit="bytes",
            runs=(float(layer["zip_bytes"]),),
            details={
                "zip_bytes": layer["zip_bytes"],
                "unzipped_bytes": layer["unzipped_bytes"],
                "pyc_bytes": layer["bytecode"]["pyc_bytes"],
                "no_bytecode_zip_bytes": no_bytecode.result["zip_bytes"],
                "no_bytecode_unzipped_bytes": no_bytecode.result["unzipped_bytes"],
            },
        ),
    ]
    return figures
