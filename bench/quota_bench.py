"""Releases under Lambda's real limits (issue 16): deploy and rollback of 4, 16, 64 functions.

The Lambda test double (tests/scripts/lambda_double.py) in front of the bench's moto server
enforces the control-plane quota (15 requests/s per account and region, GetFunction 100/s,
429 beyond) and a 3 s update window after each code update. Per size: a first code-only
deploy (untimed: the first release after adoption), then the timed ones: a code-only deploy
and `rollback --previous`, run in this process (the release itself, not the interpreter's
start), each checked afterwards (every alias's version, its code and layers, `$LATEST`).
Beside each figure: its floor, what the writes alone need at 15/s --

    deploy:   3 writes x N / 15 per s + one update window + one publish (1/15 s)
    rollback: N / 15 per s + one call (1/15 s)

-- and the Lambda calls per function, from the double's log.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import time
from collections.abc import Iterator
from typing import Any

from bench import say
from bench.figures import Context
from bench.results import Figure
from bench.workspace import TEST_CREDENTIALS
from environments import REPO_ROOT

SIZES = (4, 16, 64)
SMOKE_SIZES = (4,)
WINDOW_S = 3.0
RPS = 15.0
WRITES_PER_DEPLOY = 3  # UpdateFunctionCode, PublishVersion, UpdateAlias


def deploy_floor(functions: int) -> float:
    return WRITES_PER_DEPLOY * functions / RPS + WINDOW_S + 1 / RPS


def rollback_floor(functions: int) -> float:
    return functions / RPS + 1 / RPS


@contextlib.contextmanager
def _test_helpers() -> Iterator[None]:
    """The double and its world builders live with the tests; the credentials they use are
    the bench's fake ones (nothing here can reach AWS)."""
    path = str(REPO_ROOT / "tests" / "scripts")
    saved = {k: os.environ.get(k) for k in TEST_CREDENTIALS}
    sys.path.insert(0, path)
    os.environ.update(TEST_CREDENTIALS)
    try:
        yield
    finally:
        sys.path.remove(path)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def quota_figures(ctx: Context) -> list[Figure]:
    sizes = SMOKE_SIZES if ctx.smoke else SIZES
    figures: list[Figure] = []
    with _test_helpers():
        for functions in SIZES:
            if functions in sizes:
                figures += _measure(ctx, functions)
            else:
                figures += [
                    Figure(key=f"quota_{k}_{functions}", label=k, unit="s", skipped="smoke mode")
                    for k in ("deploy", "rollback")
                ]
    return figures


def _measure(ctx: Context, functions: int) -> list[Figure]:
    from lambda_double import LambdaDouble
    from scale_world import code_only, many_functions, paced_timing, serves, unmetered

    from scripts.release.deploy import deploy
    from scripts.release.rollback import RollbackRequest, rollback

    deploys: list[tuple[float, float, int]] = []  # (seconds, calls/function, 429s)
    rollbacks: list[tuple[float, float, int]] = []
    with LambdaDouble.start(upstream=ctx.endpoint, update_window_s=WINDOW_S) as double:
        for run in range(ctx.runs):
            # A fresh world per run, whose first release (untimed) is the one after adoption:
            # it reads each alias once (GetAlias), later ones plan from its record.
            world = many_functions(double, functions)
            say(f"  {functions} functions: deploy {run + 1}/{ctx.runs}")
            deploy(world.context(timing=paced_timing()), code_only(world, f"w{run}"))
            target = code_only(world, f"q{run}")
            with unmetered(double):
                before = serves(world)
            deploys.append(
                _timed(
                    double,
                    world,
                    functools.partial(deploy, world.context(timing=paced_timing()), target),
                )
            )
            with unmetered(double):
                _check_deployed(serves(world), target.package.code_sha256)  # type: ignore[union-attr]
            rollbacks.append(
                _timed(
                    double,
                    world,
                    functools.partial(
                        rollback,
                        world.context(timing=paced_timing()),
                        RollbackRequest(previous=True),
                    ),
                )
            )
            with unmetered(double):
                after = serves(world)
            if {n: s[:3] for n, s in after.items()} != {n: s[:3] for n, s in before.items()}:
                raise RuntimeError(f"rollback of {functions} functions: aliases not back")
    return [
        _figure("deploy", functions, deploys, deploy_floor(functions)),
        _figure("rollback", functions, rollbacks, rollback_floor(functions)),
    ]


def _timed(double: Any, world: Any, release: Any) -> tuple[float, float, int]:
    from scale_world import calls_per_function

    double.clear_calls()
    refused = double.throttled
    started = time.perf_counter()
    result = release()
    seconds = time.perf_counter() - started
    if result["state"] != "succeeded":
        raise RuntimeError(f"release not succeeded: {result['state']}")
    return seconds, calls_per_function(double, world), double.throttled - refused


def _check_deployed(served: dict[str, Any], code: str) -> None:
    wrong = sorted(
        name
        for name, (_, alias_code, _, latest_code, _) in served.items()
        if (alias_code, latest_code) != (code, code)
    )
    if wrong:
        raise RuntimeError(f"deploy: {', '.join(wrong)} do not serve the new code")


def _figure(
    kind: str, functions: int, runs: list[tuple[float, float, int]], floor: float
) -> Figure:
    what = "deploy, code change" if kind == "deploy" else "rollback --previous"
    seconds = tuple(s for s, _, _ in runs)
    median = sorted(seconds)[len(seconds) // 2]
    return Figure(
        key=f"quota_{kind}_{functions}",
        label=f"{what}, {functions} functions, Lambda's quota and 3 s windows (double)",
        unit="s",
        runs=seconds,
        details={
            "floor_s": round(floor, 2),
            "x_floor": round(median / floor, 2),
            "calls_per_function": round(max(c for _, c, _ in runs), 2),
            "throttled_429": max(t for _, _, t in runs),
        },
    )
