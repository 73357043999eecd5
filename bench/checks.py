"""What hooks and smoke checks add to a release (issue 18), through the Lambda double.

Two worlds of the `local` environment's four functions on the bench's moto server, behind
the tests' Lambda double (tests/scripts/lambda_double.py), whose `Invoke` runs each
version's package and layers with the runtime's Python: code that really runs. One world
has no checks; the other has one hook (a migration on db-sync's new version) and a smoke
check on every function. Each run deploys a new layer and package to both (interleaved,
so machine load falls on both alike), in-process, and times `deploy()` whole: the ratio
is what the checks cost a release, four functions, update windows of 0.2 s.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import replace
from typing import Any

from bench import say
from bench.figures import ENV, Context, skipped
from bench.results import Figure
from bench.workspace import TEST_CREDENTIALS
from environments import REPO_ROOT, Hook, SmokeCheck, get_environment
from scripts.release.deploy import deploy, target_from_store
from scripts.release.sources import Sources

_TESTS = REPO_ROOT / "tests" / "scripts"


def _world(endpoint: str, *, checked: bool) -> Any:
    from lambda_world import make_world  # tests/scripts: the double's world helpers
    from running_code import running_world

    world = running_world(make_world(endpoint))
    if checked:
        smoke = SmokeCheck(event={"version": True}, expect={"dep": "placeholder"})
        functions = tuple(replace(f, smoke=smoke) for f in world.env.functions)
        hooks = (Hook(function="db-sync", event={"migrate": True}),)
        world.env = replace(world.env, functions=functions, hooks=hooks)
    return world


def _release(world: Any, tag: str) -> float:
    from running_code import upload_running_package

    if world.env.hooks:  # each release's smoke check expects its own layer's module
        smoke = SmokeCheck(event={"version": True}, expect={"version": tag, "dep": tag})
        world.env = replace(
            world.env, functions=tuple(replace(f, smoke=smoke) for f in world.env.functions)
        )
    target = target_from_store(
        Sources(world.store),
        world.env,
        layer_hash=world.upload_layer(tag),
        package_hash=upload_running_package(world, tag, needs=f"dep_{tag}"),
    )
    started = time.perf_counter()
    result = deploy(world.context(), target)
    seconds = time.perf_counter() - started
    if result["state"] != "succeeded":
        raise RuntimeError(f"bench release {tag}: {result['state']}")
    return seconds


def checks_figures(ctx: Context) -> list[Figure]:
    if str(_TESTS) not in sys.path:
        sys.path.insert(0, str(_TESTS))
    os.environ.update(TEST_CREDENTIALS)  # the worlds' boto3 clients talk to moto only
    from lambda_double import LambdaDouble
    from wheel_factory import find_python

    if find_python(get_environment(ENV).runtime.removeprefix("python")) is None:
        reason = f"no {get_environment(ENV).runtime} on this machine to run the handlers"
        return [
            skipped("deploy_checks_without", "deploy, no checks (double)", "s", reason),
            skipped("deploy_checks_with", "deploy with hooks and smoke checks", "s", reason),
        ]
    runs = ctx.runs if ctx.smoke else max(ctx.runs, 3)  # smoke: the code path, once
    double = LambdaDouble.start(upstream=ctx.endpoint, update_window_s=0.2)
    try:
        plain, checked = (
            _world(double.endpoint, checked=False),
            _world(double.endpoint, checked=True),
        )
        without, with_checks = [], []
        for index in range(1, runs + 1):
            tag = f"v{index}"
            without.append(_release(plain, tag))
            with_checks.append(_release(checked, tag))
            say(f"  release {tag}: {without[-1]:.2f} s plain, {with_checks[-1]:.2f} s checked")
        invocations = len(double.runner.invocations)
    finally:
        double.stop()
    functions = len(checked.env.functions)
    return [
        Figure(
            key="deploy_checks_without",
            label=f"deploy, new layer and package, {functions} functions, no checks (double)",
            unit="s",
            runs=tuple(without),
        ),
        Figure(
            key="deploy_checks_with",
            label=f"the same with 1 hook and {functions} smoke checks, code running (double)",
            unit="s",
            runs=tuple(with_checks),
            baseline="deploy_checks_without",
            details={"invocations": invocations, "per_release": invocations // runs},
        ),
    ]
