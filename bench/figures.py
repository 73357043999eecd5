"""Each figure with its baseline, measured in the same invocation.

Cache states, defined once:
- warm: the tool's wheel cache (uv's UV_CACHE_DIR, pip's PIP_CACHE_DIR; both under
  bench/.work) was filled by one untimed run of the same install; the timed run starts from
  an empty target and an empty store, so it resolves, installs (from cache) and zips.
- cold: an empty wheel cache per run: every wheel is downloaded from PyPI.
- SAM cold: no `.aws-sam` directory (no SAM build cache), pip's cache warm as above;
  SAM `--cached`: `.aws-sam` filled by one untimed `sam build --cached` (SAM 1.170 then
  reports "Manifest is not changed ... running incremental build").
"""

from __future__ import annotations

import filecmp
import json
import os
import shutil
import statistics
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.measure import BenchError, Timed, last_json_line, run_timed
from bench.results import Figure
from bench.workspace import (
    VENV_PYTHON,
    Backends,
    bytecode_environ,
    fresh_dir,
    pip_environ,
)
from environments import REPO_ROOT, get_environment
from scripts.builder.budget import LAMBDA_UNZIPPED_LIMIT
from scripts.builder.wheels import RUNTIME_GLIBC, installed_distributions, target_platform

INSTALLERS = ("uv", "pip", "pip3")
ENV = "local"


@dataclass(frozen=True, kw_only=True)
class Context:
    work: Path
    runs: int
    smoke: bool
    backends: Backends
    environ: Mapping[str, str]  # our commands: moto endpoint, credentials, uv cache
    endpoint: str
    sam_venv: Path | None
    # Kept across runs (bench/.work/pycache): compiling the provider's 2,212 modules once
    # costs over a minute on this machine.
    pycache: Path

    @property
    def bucket(self) -> str:
        return get_environment(ENV).artifact_bucket

    @property
    def s3_store(self) -> str:
        return f"s3://{self.bucket}/{get_environment(ENV).key_prefix}"


def cold_runs(ctx: Context) -> int:
    """Cold (empty cache) figures download ~20 MB per run: one run fewer keeps `make
    bench` under 10 minutes on a shared 2-core machine."""
    return max(1, ctx.runs - 1)


# ---- our builder through the audited probe --------------------------------------------


@dataclass(frozen=True, kw_only=True)
class BuildRun:
    timed: Timed
    result: Mapping[str, Any]
    spawned: Sequence[Sequence[str]]
    aws_sdk_loaded: bool

    @property
    def installers(self) -> list[str]:
        """Installer processes the command started (uv or pip by executable name)."""
        return [
            " ".join(command[:3])
            for command in self.spawned
            if command and Path(command[0]).name in INSTALLERS
        ]


def scripts_command(ctx: Context, args: Sequence[str], spawn_log: Path) -> list[str]:
    return [str(VENV_PYTHON), "-m", "bench.probe", "scripts", str(spawn_log), *args]


def run_scripts(
    ctx: Context,
    args: Sequence[str],
    *,
    what: str,
    environ: Mapping[str, str] | None = None,
    umask: int | None = None,
) -> BuildRun:
    spawn_log = ctx.work / "spawn.json"
    spawn_log.unlink(missing_ok=True)
    timed = run_timed(
        scripts_command(ctx, args, spawn_log),
        # Our modules' bytecode cached like any installed tool's (SAM's venv ships its
        # .pyc files; this machine sets PYTHONDONTWRITEBYTECODE, no user default).
        env=bytecode_environ(environ or ctx.environ, ctx.pycache),
        cwd=REPO_ROOT,
        what=what,
        umask=umask,
    )
    report = json.loads(spawn_log.read_text(encoding="utf-8"))
    return BuildRun(
        timed=timed,
        result=json.loads(last_json_line(timed.stdout)),
        spawned=report["spawned"],
        aws_sdk_loaded=report["aws_sdk_loaded"],
    )


def layer_args(
    ctx: Context,
    *,
    backend: Path,
    store: str,
    build_dir: Path,
    runtime: str | None = None,
    extra: Sequence[str] = (),
) -> list[str]:
    args = [
        "build-layer",
        "--env",
        ENV,
        "--store",
        store,
        "--backend-dir",
        str(backend),
        "--build-dir",
        str(build_dir),
        "--manifest",
        str(build_dir / "layer-manifest.json"),
        "--json",
        *ctx.backends.index_args,
        *extra,
    ]
    return [*args, "--runtime", runtime] if runtime else args


def build_layer(
    ctx: Context,
    name: str,
    *,
    backend: Path,
    store: str | None = None,
    runtime: str | None = None,
    environ: Mapping[str, str] | None = None,
    umask: int | None = None,
    extra: Sequence[str] = (),
) -> BuildRun:
    """One build-layer run into a fresh store (a cache miss) unless `store` is given."""
    build_dir = fresh_dir(ctx.work / "builds" / name)
    target = store or str(fresh_dir(ctx.work / "stores" / name))
    return run_scripts(
        ctx,
        layer_args(
            ctx, backend=backend, store=target, build_dir=build_dir, runtime=runtime, extra=extra
        ),
        what=f"build-layer {name}",
        environ=environ,
        umask=umask,
    )


def build_backend(
    ctx: Context, name: str, *, backend: Path, store: str | None = None, umask: int | None = None
) -> BuildRun:
    build_dir = fresh_dir(ctx.work / "builds" / name)
    target = store or str(fresh_dir(ctx.work / "stores" / name))
    args = ["build-backend", "--env", ENV, "--store", target, "--backend-dir", str(backend)]
    return run_scripts(
        ctx,
        [*args, "--build-dir", str(build_dir), "--json"],
        what=f"build-backend {name}",
        umask=umask,
    )


# ---- 0. the floor: starting Python -----------------------------------------------------


def python_startup(ctx: Context) -> Figure:
    runs = [
        run_timed(
            [str(VENV_PYTHON), "-c", "pass"], env=ctx.environ, cwd=REPO_ROOT, what="python -c pass"
        ).seconds
        for _ in range(max(ctx.runs, 3))
    ]
    return Figure(
        key="python_startup",
        label="`python -c pass` (the floor for any Python CLI)",
        unit="s",
        runs=tuple(runs),
    )


# ---- 1. cache hit ----------------------------------------------------------------------


def cache_hit(ctx: Context, *, store: str, key: str, where: str) -> Figure:
    """Timed `build-layer` runs against a store that already holds layer-HASH.zip.

    The store was filled by a build just before (`prime_*`); each hit must report
    built=false and start no process at all (the audit hook would list uv or pip).
    """
    runs: list[float] = []
    sdk_loaded: set[bool] = set()
    for index in range(max(ctx.runs, 3)):
        run = build_layer(ctx, f"{key}-{index}", backend=ctx.backends.layer_a, store=store)
        if run.result.get("built") is not False:
            raise BenchError(f"{key}: expected a cache hit (built=false), got {run.result}")
        if run.spawned:
            raise BenchError(f"{key}: a cache hit started processes: {run.spawned}")
        runs.append(run.timed.seconds)
        sdk_loaded.add(run.aws_sdk_loaded)
    return Figure(
        key=key,
        label=f"build-layer cache hit ({where})",
        unit="s",
        runs=tuple(runs),
        baseline="python_startup",
        details={"built": False, "processes_started": 0, "botocore_loaded": any(sdk_loaded)},
    )


# ---- 2. cold layer build: ours, pip, SAM ----------------------------------------------


def ours_build_figure(
    ctx: Context,
    *,
    key: str,
    label: str,
    backend: Path,
    runtime: str | None,
    cold: bool,
    baseline: str | None,
    variants: Sequence[tuple[Path, int]] = (),
) -> tuple[Figure, list[BuildRun]]:
    """Runs into empty stores; with `variants` ((backend copy, umask) pairs) run i builds
    from variant i mod len, so the same runs also show determinism."""
    runs: list[BuildRun] = []
    for index in range(cold_runs(ctx) if cold else ctx.runs):
        environ = dict(ctx.environ)
        if cold:
            environ["UV_CACHE_DIR"] = str(fresh_dir(ctx.work / "uv-cache-cold"))
            environ["LAYERS_CACHE_DIR"] = str(fresh_dir(ctx.work / "layers-cache-cold"))
        source, umask = variants[index % len(variants)] if variants else (backend, None)
        run = build_layer(
            ctx,
            f"{key}-{index}",
            backend=source,
            runtime=runtime,
            environ=environ,
            umask=umask,
        )
        if run.result.get("built") is not True:
            raise BenchError(f"{key}: expected a build into an empty store, got {run.result}")
        runs.append(run)
    digests = {run.result["sha256"] for run in runs}
    figure = Figure(
        key=key,
        label=label,
        unit="s",
        runs=tuple(run.timed.seconds for run in runs),
        baseline=baseline,
        details={
            "runtime": runs[0].result["runtime"],
            "platform_tag": runs[0].result["platform_tag"],
            "installer_processes": len(runs[0].installers),
            "same_sha256_every_run": len(digests) == 1,
            "zip_bytes": runs[0].result["zip_bytes"],
        },
    )
    return figure, runs


def pip_platforms(runtime: str, architecture: str) -> list[str]:
    """Every manylinux tag the runtime's glibc accepts: pip does not expand
    `manylinux_2_34` to older levels on its own (uv does)."""
    major, minor = RUNTIME_GLIBC[runtime]
    machine = {"x86_64": "x86_64", "arm64": "aarch64"}[architecture]
    tags = [f"manylinux_{major}_{m}_{machine}" for m in range(minor, 16, -1)]
    return [*tags, f"manylinux2014_{machine}"]


def pip_install_command(
    ctx: Context, *, requirements: Path, target: Path, runtime: str, architecture: str
) -> list[str]:
    """The install AWS documents for layers with native wheels, without bytecode
    compilation (our builder ships none either; this makes the baseline faster, not slower)."""
    platform = target_platform(runtime, architecture)
    command = [str(VENV_PYTHON), "-m", "pip", "install", "--quiet", "--target", str(target)]
    for tag in pip_platforms(runtime, architecture):
        command += ["--platform", tag]
    command += [
        "--implementation",
        "cp",
        "--python-version",
        platform.python_version,
        "--only-binary=:all:",
        "--no-compile",
        *ctx.backends.index_args,
        "-r",
        str(requirements),
    ]
    return command


_ZIP = "import shutil, sys; shutil.make_archive(sys.argv[1], 'zip', root_dir=sys.argv[2])"


def check_same_packages(what: str, site: Path, expected: Mapping[str, str]) -> None:
    """A baseline that installed something else (or nothing) would make its time a lie."""
    found = installed_distributions(site)
    if found != dict(expected):
        missing = sorted(set(expected) - set(found))
        extra = sorted(set(found) - set(expected))
        raise BenchError(
            f"{what} installed other packages than our builder: missing {missing}, "
            f"extra {extra}, versions differ for "
            f"{sorted(k for k in found if k in expected and found[k] != expected[k])}"
        )


def pip_build(
    ctx: Context, name: str, *, environ: Mapping[str, str], expected: Mapping[str, str]
) -> float:
    """pip into python/ of an empty directory, then zip it (deflate): seconds for both.

    pip evaluates environment markers against the interpreter running it, not against
    --python-version, so the example's `python_version == "3.12"` markers would make a
    3.11 pip install nothing: it gets the same pins and hashes without markers.
    """
    env = get_environment(ENV)
    root = fresh_dir(ctx.work / "pip" / name)
    install = run_timed(
        pip_install_command(
            ctx,
            requirements=ctx.backends.host_python / "requirements.txt",
            target=root / "python",
            runtime=env.runtime,
            architecture=env.architecture,
        ),
        env=environ,
        cwd=REPO_ROOT,
        what=f"pip install {name}",
    )
    zipped = run_timed(
        [str(VENV_PYTHON), "-c", _ZIP, str(root / "layer"), str(root)],
        env=environ,
        cwd=REPO_ROOT,
        what=f"zip {name}",
    )
    check_same_packages(f"pip ({name})", root / "python", expected)
    return install.seconds + zipped.seconds


def pip_figure(ctx: Context, *, cold: bool, expected: Mapping[str, str]) -> Figure:
    warm_cache = ctx.work / "pip-cache"
    if not cold:
        pip_build(
            ctx,
            "warm-up",
            environ=pip_environ(ctx.environ, pip_cache=warm_cache),
            expected=expected,
        )
    runs = []
    for index in range(cold_runs(ctx) if cold else ctx.runs):
        cache = fresh_dir(ctx.work / "pip-cache-cold") if cold else warm_cache
        environ = pip_environ(ctx.environ, pip_cache=cache)
        runs.append(pip_build(ctx, f"run-{index}", environ=environ, expected=expected))
    state = "cold" if cold else "warm"
    return Figure(
        key=f"layer_build_{state}_pip",
        label=f"pip install --target --platform ... + zip ({state} pip cache)",
        unit="s",
        runs=tuple(runs),
        details={
            "pip_config": "PIP_CONFIG_FILE=/dev/null, no PIP_FIND_LINKS",
            "packages": len(expected),
        },
    )


def skipped(key: str, label: str, unit: str, reason: str) -> Figure:
    return Figure(key=key, label=label, unit=unit, skipped=reason)


def host_runtime(python: Path) -> str:
    done = subprocess.run(
        [str(python), "-c", "import sys; print('python%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


_TEMPLATE = """AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  DepsLayer:
    Type: AWS::Serverless::LayerVersion
    Properties:
      LayerName: bench-deps
      ContentUri: deps/
      CompatibleRuntimes: [{runtime}]
    Metadata:
      BuildMethod: {runtime}
      BuildArchitecture: x86_64
"""


# What SAM prints when --cached reuses its previous build (wording differs by version).
_SAM_CACHE_USED = ("Valid cache found", "running incremental build")


def sam_figures(ctx: Context) -> list[Figure]:
    """SAM CLI's `sam build` of the same requirements as a LayerVersion, and ours at the
    same Python (the host's, so SAM needs no container)."""
    keys = (
        ("sam_build_cold", "sam build, no SAM cache (pip cache warm)", "s"),
        ("sam_build_cached", "sam build --cached, cache valid", "s"),
        ("layer_build_warm_ours_host_python", "build-layer at SAM's Python (warm uv cache)", "s"),
    )
    sam = ctx.sam_venv / "bin" / "sam" if ctx.sam_venv else None
    if ctx.smoke or sam is None or not sam.is_file():
        reason = "smoke mode" if ctx.smoke else f"no SAM CLI at {sam}: run `make bench`"
        return [skipped(key, label, unit, reason) for key, label, unit in keys]
    assert ctx.sam_venv is not None
    runtime = host_runtime(ctx.sam_venv / "bin" / "python")
    if runtime not in RUNTIME_GLIBC:
        reason = f"host Python {runtime} is not a Lambda runtime we build for"
        return [skipped(key, label, unit, reason) for key, label, unit in keys]
    project = fresh_dir(ctx.work / "sam")
    (project / "deps").mkdir()
    shutil.copy2(ctx.backends.host_python / "requirements.txt", project / "deps")
    (project / "template.yaml").write_text(_TEMPLATE.format(runtime=runtime), encoding="utf-8")
    environ = pip_environ(ctx.environ, pip_cache=ctx.work / "pip-cache")
    # SAM's Python builder runs the `pythonX.Y` it finds on PATH: its own venv's.
    environ["PATH"] = f"{ctx.sam_venv / 'bin'}{os.pathsep}{environ.get('PATH', '')}"
    environ["SAM_CLI_TELEMETRY"] = "0"

    def sam_build(what: str, *extra: str) -> Timed:
        return run_timed([str(sam), "build", *extra], env=environ, cwd=project, what=what)

    # One untimed `--cached` build fills pip's cache and SAM's; the cached runs go first,
    # then each cold run starts without .aws-sam.
    sam_build("sam build --cached warm-up (fills pip's cache and .aws-sam)", "--cached")
    cached = []
    for index in range(ctx.runs):
        timed = sam_build(f"sam build --cached {index}", "--cached")
        said = timed.stdout + timed.stderr
        if not any(phrase in said for phrase in _SAM_CACHE_USED):
            raise BenchError("sam build --cached did not report using its cache: figure is wrong")
        cached.append(timed.seconds)
    cold = []
    for index in range(ctx.runs):
        shutil.rmtree(project / ".aws-sam", ignore_errors=True)
        cold.append(sam_build(f"sam build cold {index}").seconds)
    version = run_timed([str(sam), "--version"], env=environ, cwd=project, what="sam --version")
    warm_up = build_layer(
        ctx, "host-python-warm-up", backend=ctx.backends.host_python, runtime=runtime
    )
    check_same_packages(
        "sam build",
        project / ".aws-sam" / "build" / "DepsLayer" / "python",
        warm_up.result["packages"],
    )
    ours, _ = ours_build_figure(
        ctx,
        key="layer_build_warm_ours_host_python",
        label=f"build-layer --runtime {runtime} (warm uv cache)",
        backend=ctx.backends.host_python,
        runtime=runtime,
        cold=False,
        baseline="sam_build_cold",
    )
    details = {"sam": version.stdout.strip(), "build_method": runtime}
    return [
        Figure(
            key="sam_build_cold",
            label=f"sam build ({runtime} LayerVersion, no SAM cache, pip cache warm)",
            unit="s",
            runs=tuple(cold),
            details=details,
        ),
        Figure(
            key="sam_build_cached",
            label="sam build --cached (cache valid)",
            unit="s",
            runs=tuple(cached),
            details=details,
        ),
        ours,
    ]


# ---- 3. determinism --------------------------------------------------------------------


def _variant(source: Path, dest: Path, *, mtime: float, mode: int) -> Path:
    """A copy of a backend with every file's mtime and permission bits changed."""
    fresh_dir(dest)
    shutil.copytree(source, dest, dirs_exist_ok=True)
    for path in dest.rglob("*"):
        if path.is_file():
            path.chmod(mode)
            os.utime(path, (mtime, mtime))
    return dest


def determinism_variants(ctx: Context) -> list[tuple[Path, int]]:
    """Two copies of the backend: mtimes 2001 vs 2026, modes 0644 vs 0600, built under
    umask 022 vs 077, each in its own build directory."""
    one = _variant(ctx.backends.layer_a, ctx.work / "det-1", mtime=978_307_200, mode=0o644)
    two = _variant(ctx.backends.layer_a, ctx.work / "det-2", mtime=1_767_225_600, mode=0o600)
    return [(one, 0o022), (two, 0o077)]


def determinism_figures(
    ctx: Context, variants: Sequence[tuple[Path, int]], layer_runs: Sequence[BuildRun]
) -> list[Figure]:
    """The layer: the first two timed warm builds (one per variant); the package: two
    build-backend runs, one per variant. The zips must be byte-identical."""
    (one, one_umask), (two, two_umask) = variants
    layers = list(layer_runs[:2])
    while len(layers) < 2:
        source, umask = variants[len(layers)]
        layers.append(build_layer(ctx, f"determinism-{len(layers)}", backend=source, umask=umask))
    packages = [
        build_backend(ctx, "determinism_package-1", backend=one, umask=one_umask),
        build_backend(ctx, "determinism_package-2", backend=two, umask=two_umask),
    ]
    figures = []
    for key, label, (first, second) in (
        ("determinism_layer", "layer zip byte-identical across builds", layers),
        ("determinism_package", "function package zip byte-identical", packages),
    ):
        same_bytes = filecmp.cmp(first.result["path"], second.result["path"], shallow=False)
        same = same_bytes and first.result["sha256"] == second.result["sha256"]
        figures.append(
            Figure(
                key=key,
                label=label,
                unit="bool",
                runs=(1.0 if same else 0.0,),
                details={
                    "identical": same,
                    "sha256_1": first.result["sha256"],
                    "sha256_2": second.result["sha256"],
                    "umask": "022 vs 077",
                    "inputs": "mtime 2001 vs 2026, mode 0644 vs 0600, other directories",
                },
            )
        )
    return figures


# ---- 6. sizes ---------------------------------------------------------------------------


def size_figures(layer: Mapping[str, Any], package: Mapping[str, Any]) -> list[Figure]:
    used = int(layer["unzipped_bytes"]) + int(package["unzipped_bytes"])
    return [
        Figure(
            key="size_layer",
            label="layer zip (example lock)",
            unit="bytes",
            runs=(float(layer["zip_bytes"]),),
            details={
                "zip_bytes": layer["zip_bytes"],
                "unzipped_bytes": layer["unzipped_bytes"],
                "headroom_bytes": LAMBDA_UNZIPPED_LIMIT - used,
                "headroom_of_250MB": f"{100 * (1 - used / LAMBDA_UNZIPPED_LIMIT):.1f}%",
            },
        ),
        Figure(
            key="size_package",
            label="function package zip (example app)",
            unit="bytes",
            runs=(float(package["zip_bytes"]),),
            details={
                "zip_bytes": package["zip_bytes"],
                "unzipped_bytes": package["unzipped_bytes"],
            },
        ),
    ]


# ---- 5. synth ---------------------------------------------------------------------------


def synth_figure(ctx: Context, mode: str) -> Figure:
    """Wall time of one `python` process that synthesizes, plus its peak memory.

    Bytecode is cached (PYTHONPYCACHEPREFIX under bench/.work, one untimed warm-up run)
    for both modes: without it the standard import compiles 2,212 modules every time.
    Memory: the peak RSS (the kernel's VmHWM) of the Python process itself and of its Node
    (jsii) child processes, summed, read just before the process exits.
    """
    key = "synth_fast_all_stacks" if mode == "fast" else "synth_standard_one_stack"
    environ = bytecode_environ(ctx.environ, ctx.pycache)
    environ.pop("AWS_ENDPOINT_URL", None)

    def once(name: str) -> tuple[float, dict[str, Any]]:
        outdir = fresh_dir(ctx.work / "synth" / name)
        timed = run_timed(
            [str(VENV_PYTHON), "-m", "bench.probe", "synth", mode, str(outdir)],
            env=environ,
            cwd=REPO_ROOT,
            what=f"synth {name}",
        )
        return timed.seconds, json.loads(last_json_line(timed.stdout))

    if not ctx.smoke:
        once(f"{mode}-warm-up")
    results = [once(f"{mode}-{index}") for index in range(ctx.runs)]
    reports = [report for _, report in results]
    label = (
        "all our stacks, fast provider import"
        if mode == "fast"
        else "minimal app, one small stack, provider imported the standard way"
    )
    return Figure(
        key=key,
        label=label,
        unit="s",
        runs=tuple(seconds for seconds, _ in results),
        baseline="synth_standard_one_stack" if mode == "fast" else None,
        details={
            "stacks": len(reports[0]["stacks"]),
            "python_peak_rss_MB": round(
                statistics.median(r["python_peak_rss_bytes"] for r in reports) / 1e6
            ),
            "node_peak_rss_MB": round(
                statistics.median(r["node_peak_rss_bytes"] for r in reports) / 1e6
            ),
            "node_processes": reports[0]["node_processes"],
            "provider_modules_loaded": reports[0]["provider_modules_loaded"],
        },
    )
