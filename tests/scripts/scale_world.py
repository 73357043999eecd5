"""Worlds of many functions behind a double that enforces Lambda's quota (issue 16).

Made before the quota is switched on (Terraform's part is not under test); checked
without it (`unmetered`): what callers get, function by function.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import replace

from lambda_double import LambdaDouble
from lambda_double_quota import Quota
from lambda_world import World, make_world

from environments import ENVIRONMENTS
from scripts.release.deploy import DeployTarget
from scripts.release.timing import Timing

Served = dict[str, tuple[str, str, tuple[str, ...], str, tuple[str, ...]]]


def paced_timing() -> Timing:
    # The defaults an operator gets (real sleeps, the documented quota), a shorter lock.
    return Timing(lock_lease_s=60.0, settle_timeout_s=120.0)


def many_functions(double: LambdaDouble, count: int) -> World:
    """`count` functions on package v0 with their alias on version 1, made before the quota
    is switched on (Terraform's part is not under test)."""
    double.quota = None  # Terraform's part is not paced
    base = ENVIRONMENTS["local"]
    first = base.functions[0]
    functions = tuple(replace(first, name=f"fn{i:02d}") for i in range(count))
    world = make_world(double.endpoint, replace(base, functions=functions))
    world.upload_layer("v0")
    world.upload_package("v0")
    world.create_functions()
    # Wait out the creation windows, then Terraform's alias on version 1.
    world.add_aliases()
    double.enforce(Quota())
    return world


def code_only(world: World, tag: str) -> DeployTarget:
    package = world.target("v0", tag).package
    return DeployTarget(layer=None, package=package)


@contextlib.contextmanager
def unmetered(double: LambdaDouble) -> Iterator[None]:
    """The test's own checks neither count against the quota nor appear in the call log."""
    quota, calls = double.quota, double.calls
    double.quota = None
    try:
        yield
    finally:
        double.rules.calls[:] = calls
        double.quota = quota


def serves(world: World) -> Served:
    """Per function: (alias version, its code, its layers, $LATEST's code, its layers)."""
    raw = world.raw_lambda()
    found = {}
    for name in world.env.function_names:
        alias = raw.get_function_configuration(FunctionName=name, Qualifier=world.env.alias_name)
        latest = raw.get_function_configuration(FunctionName=name)
        assert latest["LastUpdateStatus"] == "Successful", (name, latest["LastUpdateStatus"])
        found[name] = (
            str(alias["Version"]),
            alias["CodeSha256"],
            tuple(layer["Arn"] for layer in alias.get("Layers", [])),
            latest["CodeSha256"],
            tuple(layer["Arn"] for layer in latest.get("Layers", [])),
        )
    return found


def calls_per_function(double: LambdaDouble, world: World) -> float:
    names = set(world.env.function_names)
    calls = [c for c in double.calls if c.function in names]
    return len(calls) / len(names)
