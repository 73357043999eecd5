"""Kill points for a CLI deploy, made deterministic with the double (test_crash*.py).

The writes that must land before the kill are answered late (applied, then held); the
ones that must not are refused "update in progress" while the run backs off (30 s, from
`LAYERS_CONFLICT_DELAYS`); each point waits until Lambda shows exactly that state.
`crash(cli, point)` puts R1 in place, starts a CLI deploy of R2, kills it there (its
process group, SIGKILL) and returns (R1's record, the killed run, R2's `started` record).
"""

from __future__ import annotations

from collections.abc import Callable

from cli_world import Cli, Running, target_of, wait_until
from lambda_double import LambdaDouble
from lambda_world import World

from scripts.release import history
from scripts.release.deploy import deploy
from scripts.release.history import ReleaseRecord

CONFLICT = ("ResourceConflictException", "The operation cannot be performed at this time.")
HELD_S = 60.0  # an answer held this long: the killed run is still waiting for it


def before_of(record: ReleaseRecord) -> dict[str, tuple[str | None, str, tuple[str, ...]]]:
    """What a release found: alias version, `$LATEST` code and layers, per function."""
    return {
        name: (entry.alias_version, entry.before.code_sha256, entry.before.layers)
        for name, entry in record.functions.items()
    }


def refuse(double: LambdaDouble, operation: str, function: str | None = None) -> None:
    double.fail(
        operation,
        status=409,
        code=CONFLICT[0],
        message=CONFLICT[1],
        function=function,
        times=None,
    )


def aliases(world: World) -> dict[str, str | None]:
    raw = world.raw_lambda()
    found: dict[str, str | None] = {}
    for name in world.env.function_names:
        try:
            found[name] = raw.get_alias(FunctionName=name, Name=world.env.alias_name)[
                "FunctionVersion"
            ]
        except raw.exceptions.ResourceNotFoundException:
            found[name] = None
    return found


def _versions(record: ReleaseRecord) -> dict[str, str | None]:
    return {name: entry.target.version for name, entry in record.functions.items()}


def before_any_write(cli: Cli, run: Running, r1: ReleaseRecord) -> None:
    """The `started` record is written, then every first write is refused: none landed."""
    names = cli.world.env.function_names
    wait_until(
        lambda: {c.function for c in cli.double.calls_to("UpdateFunctionCode")} == set(names),
        "every function's first code update (refused)",
        running=run,
    )


def after_two_code_updates(cli: Cli, run: Running, r1: ReleaseRecord) -> None:
    """Two functions run the new code on the old layer; two were never changed."""
    code = {name: entry.target.code_sha256 for name, entry in r1.functions.items()}
    names = cli.world.env.function_names
    wait_until(
        lambda: (
            [n for n, (c, _) in cli.world.state().items() if c != code[n]] == list(names[:2])
            and len(cli.double.calls_to("UpdateFunctionCode")) >= 4
        ),
        "two code updates applied, two refused",
        running=run,
    )


def after_two_of_four_aliases(cli: Cli, run: Running, r1: ReleaseRecord) -> None:
    """Callers of two functions get the new release, callers of the other two the old."""
    names, first = cli.world.env.function_names, _versions(r1)
    wait_until(
        lambda: (
            [n for n, v in aliases(cli.world).items() if v != first[n]] == list(names[:2])
            and len(cli.double.calls_to("UpdateAlias")) >= 4
        ),
        "two aliases moved, two refused",
        running=run,
    )


def after_every_alias(cli: Cli, run: Running, r1: ReleaseRecord) -> None:
    """Every alias moved; the run died before it could record `succeeded`."""
    first = _versions(r1)
    wait_until(
        lambda: all(v != first[n] for n, v in aliases(cli.world).items()),
        "every alias moved",
        running=run,
    )


def arrange(point: str, cli: Cli) -> None:
    double, names = cli.double, cli.world.env.function_names
    if point == "before_any_write":
        refuse(double, "UpdateFunctionCode")
    elif point == "after_two_code_updates":
        for name in names[:2]:
            double.slow_response("UpdateFunctionCode", HELD_S, function=name)
        for name in names[2:]:
            refuse(double, "UpdateFunctionCode", name)
    elif point == "after_two_of_four_aliases":
        for name in names[:2]:
            double.slow_response("UpdateAlias", HELD_S, function=name)
        for name in names[2:]:
            refuse(double, "UpdateAlias", name)
    else:
        double.slow_response("UpdateAlias", HELD_S, times=len(names))


POINTS: dict[str, Callable[[Cli, Running, ReleaseRecord], None]] = {
    "before_any_write": before_any_write,
    "after_two_code_updates": after_two_code_updates,
    "after_two_of_four_aliases": after_two_of_four_aliases,
    "after_every_alias": after_every_alias,
}


def crash(cli: Cli, point: str) -> tuple[ReleaseRecord, Running, ReleaseRecord]:
    """R1 in place, then a CLI deploy of R2 killed at `point`: (R1, the run, R2's record)."""
    world = cli.world
    deploy(world.context(), world.target("v1", "v1"))
    (r1,) = cli.records()
    assert world.served() == target_of(r1)
    arrange(point, cli)
    cli.double.clear_calls()
    # A refused write backs off for 30 s: the run is still waiting when it is killed.
    crashed = cli.start(*cli.deploy_args("v2", "v2"), env={"LAYERS_CONFLICT_DELAYS": "30"})
    POINTS[point](cli, crashed, r1)
    crashed.kill()
    for fault in cli.double.rules.faults:
        fault.times = 0
    r2 = cli.records()[0]
    assert r2.state == history.STARTED and r2.id != r1.id
    holder = cli.holder()
    assert holder is not None and holder.pid == crashed.pid
    return r1, crashed, r2
