"""`python -m bench [--smoke]`: every figure with its baseline, one table, one JSON file.

Full mode builds the example backend's real lock from PyPI, runs pip and AWS SAM CLI
beside our builder, deploys to a local moto server and synthesizes with both provider
imports; it writes bench/results.json. Smoke mode runs the same code paths on a tiny
offline lock with one run each, skips what needs the network or takes long (cold
caches, SAM, the standard-import synth), and writes to its work directory: CI runs it so
the bench cannot rot, and prints its figures without asserting them.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from bench import say
from bench.checks import checks_figures
from bench.deploy_bench import create_bucket, deploy_figures, prime_s3
from bench.figures import (
    Context,
    build_backend,
    build_layer,
    cache_hit,
    determinism_figures,
    determinism_variants,
    ours_build_figure,
    pip_figure,
    python_startup,
    sam_figures,
    size_figures,
    skipped,
    synth_figure,
)
from bench.measure import (
    BenchError,
    command_version,
    load_average,
    machine,
    python_tools,
)
from bench.realistic import realistic_figures
from bench.results import (
    FIGURE_KEYS,
    Figure,
    Target,
    from_json,
    judge_all,
    ratio,
    render_table,
    to_json,
    write_json,
)
from bench.workspace import (
    BENCH_DIR,
    VENV_PYTHON,
    WORK_DIR,
    base_environ,
    fresh_dir,
    moto_server,
    prepare_backends,
)

DEFAULT_SAM_VENV = WORK_DIR / "sam-venv"


def _ratio_target(name: str, key: str, baseline: str, limit: float) -> Target:
    def judge(figures: Mapping[str, Figure]) -> tuple[str, bool | None]:
        found = ratio(figures, key, baseline)
        if found is None:
            return "not measured", None
        return f"{found:.2f}x {baseline} (limit {limit}x)", found <= limit

    return Target(name=name, judge=judge)


def _cache_hit_under_1s(figures: Mapping[str, Figure]) -> tuple[str, bool | None]:
    medians = [figures[k].median for k in ("cache_hit_local", "cache_hit_s3")]
    values = [m for m in medians if m is not None]
    if not values:
        return "not measured", None
    return f"local {medians[0]:.2f} s, S3 {medians[1]:.2f} s", max(values) < 1.0


def _code_only_under_5s(figures: Mapping[str, Figure]) -> tuple[str, bool | None]:
    median = figures["deploy_code_only"].median
    return ("not measured", None) if median is None else (f"{median:.2f} s", median < 5.0)


def _rollback_under_2s_no_upload(figures: Mapping[str, Figure]) -> tuple[str, bool | None]:
    figure = figures["rollback_by_alias"]
    if figure.median is None:
        return "not measured", None
    uploaded = figure.details.get("artifact_bytes_uploaded", 0)
    return (
        f"{figure.median:.2f} s, {uploaded} artifact bytes uploaded",
        figure.median < 2.0 and uploaded == 0,
    )


def _no_change_no_updates(figures: Mapping[str, Figure]) -> tuple[str, bool | None]:
    details = figures["deploy_no_change"].details
    if "update_calls" not in details:
        return "not measured", None
    updates, publishes = details["update_calls"], details["publish_calls"]
    return (
        f"{updates} update calls, {publishes} publishes, {details['api_calls']} API calls",
        updates == 0 and publishes == 0,
    )


def _realistic_hit_under_03s(figures: Mapping[str, Figure]) -> tuple[str, bool | None]:
    median = figures["realistic_cache_hit"].median
    return ("not measured", None) if median is None else (f"{median:.2f} s", median < 0.3)


# Issue 12: bytecode at cold start, the realistic backend against pip (bench/realistic.py).
REALISTIC_TARGETS: tuple[Target, ...] = (
    _ratio_target(
        "cold import with bytecode <= 0.5x CPU without",
        "cold_import_bytecode",
        "cold_import_no_bytecode",
        0.5,
    ),
    _ratio_target(
        "realistic cold build <= 0.4x pip",
        "realistic_build_cold_ours",
        "realistic_build_cold_pip",
        0.4,
    ),
    _ratio_target(
        "realistic warm build <= 0.25x pip",
        "realistic_build_warm_ours",
        "realistic_build_warm_pip",
        0.25,
    ),
    Target(name="realistic cache hit under 0.3 s", judge=_realistic_hit_under_03s),
)

TARGETS: tuple[Target, ...] = (
    Target(name="cache hit under 1 s", judge=_cache_hit_under_1s),
    Target(
        name="rollback by alias under 2 s, nothing uploaded", judge=_rollback_under_2s_no_upload
    ),
    _ratio_target(
        "warm-cache layer build <= 0.4x pip", "layer_build_warm_ours", "layer_build_warm_pip", 0.4
    ),
    _ratio_target(
        "warm-cache layer build <= 0.25x SAM cold",
        "layer_build_warm_ours_host_python",
        "sam_build_cold",
        0.25,
    ),
    _ratio_target("cache hit <= 0.1x SAM --cached", "cache_hit_local", "sam_build_cached", 0.1),
    Target(name="code-only deploy under 5 s", judge=_code_only_under_5s),
    Target(name="no-change deploy makes no update call", judge=_no_change_no_updates),
    _ratio_target(
        "synth of all stacks <= 0.3x standard import",
        "synth_fast_all_stacks",
        "synth_standard_one_stack",
        0.3,
    ),
    *REALISTIC_TARGETS,
)


def measure(ctx: Context) -> dict[str, Figure]:
    figures: dict[str, Figure] = {}

    def add(*found: Figure) -> None:
        for figure in found:
            figures[figure.key] = figure

    b = ctx.backends
    say("== python startup")
    add(python_startup(ctx))

    say("== layer: first build (fills the warm uv cache), then cache hits")
    local_store = str(fresh_dir(ctx.work / "store-local"))
    first = build_layer(ctx, "first", backend=b.layer_a, store=local_store)
    if len(first.installers) != 1:
        raise BenchError(f"the process audit saw {first.installers} on a real build, not 1 uv")
    add(cache_hit(ctx, store=local_store, key="cache_hit_local", where="local store"))

    say("== layer build, warm caches: ours against pip")
    variants = determinism_variants(ctx)
    warm, warm_runs = ours_build_figure(
        ctx,
        key="layer_build_warm_ours",
        label="build-layer, empty store (warm uv cache)",
        backend=b.layer_a,
        runtime=None,
        cold=False,
        baseline="layer_build_warm_pip",
        variants=variants,
    )
    packages = first.result["packages"]
    add(warm, pip_figure(ctx, cold=False, expected=packages))

    if ctx.smoke:
        add(
            skipped("layer_build_cold_ours", "build-layer, empty uv cache", "s", "smoke mode"),
            skipped("layer_build_cold_pip", "pip, empty pip cache", "s", "smoke mode"),
        )
    else:
        say("== layer build, cold caches: ours against pip")
        cold, _ = ours_build_figure(
            ctx,
            key="layer_build_cold_ours",
            label="build-layer, empty store and empty uv cache",
            backend=b.layer_a,
            runtime=None,
            cold=True,
            baseline="layer_build_cold_pip",
        )
        add(cold, pip_figure(ctx, cold=True, expected=packages))

    say("== S3 store on moto: prime, then cache hits")
    create_bucket(ctx)
    prime_s3(ctx)
    add(cache_hit(ctx, store=ctx.s3_store, key="cache_hit_s3", where="S3 on moto"))

    say("== determinism")
    add(*determinism_figures(ctx, variants, warm_runs))

    say("== sizes")
    package = build_backend(ctx, "size-package", backend=b.layer_a)
    add(*size_figures(first.result, package.result))

    say("== deploy (moto)")
    add(*deploy_figures(ctx))

    say("== hooks and smoke checks (moto behind the Lambda double, code running)")
    add(*checks_figures(ctx))

    say("== AWS SAM CLI")
    add(*sam_figures(ctx))

    add(*realistic_figures(ctx))

    say("== synth")
    add(synth_figure(ctx, "fast"))
    if ctx.smoke:
        add(
            skipped(
                "synth_standard_one_stack",
                "standard provider import",
                "s",
                "smoke mode (costs ~0.6 GB and 15-40 s)",
            )
        )
    else:
        add(synth_figure(ctx, "standard"))
    missing = [key for key in FIGURE_KEYS if key not in figures]
    if missing:
        raise BenchError(f"figures not measured: {', '.join(missing)}")
    return figures


def measure_only(ctx: Context, group: str) -> dict[str, Figure]:
    """`--only realistic` (bench/realistic.py) or `--only checks` (bench/checks.py): that
    group's figures; every other one skipped."""
    measured = realistic_figures(ctx) if group == "realistic" else checks_figures(ctx)
    figures = {figure.key: figure for figure in measured}
    for key in FIGURE_KEYS:
        if key not in figures:
            figures[key] = skipped(key, key, "s", f"--only {group}")
    return figures


def tools(sam_venv: Path | None) -> dict[str, str]:
    found = python_tools()
    found["uv_binary"] = command_version([str(VENV_PYTHON), "-m", "uv", "--version"])
    found["pip_baseline"] = command_version([str(VENV_PYTHON), "-m", "pip", "--version"]).split(
        " from "
    )[0]
    found["node"] = command_version(["node", "--version"])
    sam = sam_venv / "bin" / "sam" if sam_venv else None
    found["aws-sam-cli"] = (
        command_version([str(sam), "--version"]) if sam and sam.is_file() else "not installed"
    )
    return found


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="fast offline run (CI)")
    parser.add_argument("--runs", type=int, help="runs per figure (default: 3, smoke: 1)")
    parser.add_argument("--out", help="results JSON (default: bench/results.json; smoke: WORK)")
    parser.add_argument("--work", help="working directory (default: bench/.work/MODE)")
    parser.add_argument("--sam-venv", default=str(DEFAULT_SAM_VENV), help="AWS SAM CLI venv")
    parser.add_argument("--show", metavar="RESULTS_JSON", help="print a saved run's table")
    parser.add_argument(
        "--only",
        choices=("realistic", "checks"),
        help="measure one group (the others reported as skipped; default output in WORK)",
    )
    args = parser.parse_args(argv)
    if args.runs is not None and args.runs < 1:
        parser.error("--runs: must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.show:
        saved = json.loads(Path(args.show).read_text(encoding="utf-8"))
        print(render_table(*from_json(saved)))
        return 0
    mode = "smoke" if args.smoke else (f"only-{args.only}" if args.only else "full")
    work = Path(args.work) if args.work else WORK_DIR / mode
    out = (
        Path(args.out)
        if args.out
        else (work / "results.json" if args.smoke or args.only else BENCH_DIR / "results.json")
    )
    runs = args.runs or (1 if args.smoke else 3)
    started = time.perf_counter()
    fresh_dir(work)
    machine_info = machine()
    sam_venv = None if args.smoke else Path(args.sam_venv).resolve()
    tool_versions = tools(sam_venv)
    try:
        with moto_server() as endpoint:
            ctx = Context(
                work=work,
                runs=runs,
                smoke=args.smoke,
                backends=prepare_backends(work / "backends", smoke=args.smoke),
                environ=base_environ(endpoint=endpoint, uv_cache=work / "uv-cache"),
                endpoint=endpoint,
                sam_venv=sam_venv,
                pycache=WORK_DIR / "pycache",
            )
            figures = measure_only(ctx, args.only) if args.only else measure(ctx)
    except BenchError as err:
        print(f"bench: {err}", file=sys.stderr)
        return 1
    elapsed = time.perf_counter() - started
    machine_info["load_average_end"] = load_average()
    notes = [
        f"{mode} mode, {runs} run(s) per figure (cache hits and python startup: at least 3, "
        f"cold-cache builds: {max(1, runs - 1)}); each figure is the median wall time of "
        "a whole process",
        "pip and SAM run with PIP_CONFIG_FILE=/dev/null and no PIP_FIND_LINKS: PyPI only, "
        "like our builder (the machine's pip.conf adds local indexes and a constraint file)",
        "warm = the tool's wheel cache filled by an untimed run; cold = empty wheel cache",
        "synth: bytecode cached for both (PYTHONPYCACHEPREFIX, one untimed warm-up)",
        "our commands: bytecode cached too (PYTHONPYCACHEPREFIX, warmed by the untimed first "
        "build), as SAM's and pip's installed .pyc files are; this machine sets "
        "PYTHONDONTWRITEBYTECODE=1",
    ]
    if args.smoke:
        notes.append("smoke: a tiny offline lock (one local wheel); times are not comparable")
    verdicts = judge_all(figures, TARGETS)
    data = to_json(
        mode=mode,
        machine=machine_info,
        tools=tool_versions,
        figures=figures,
        verdicts=verdicts,
        notes=notes,
        elapsed_s=elapsed,
    )
    write_json(out, data)
    print(render_table(figures, verdicts))
    print(
        f"\n{mode} run: {elapsed:.0f} s; load average {machine_info['load_average_start']} -> "
        f"{machine_info['load_average_end']} on {machine_info['cpus']} CPUs; wrote {out}"
    )
    return 0
