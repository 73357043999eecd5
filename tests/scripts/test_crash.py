"""SIGKILL in the middle of a CLI deploy, then `deploy`, then `rollback --previous`.

A killed run leaves its lock, a `started` release record and possibly torn functions (new
code on the old layer; some aliases moved, others not). The next deploy must take the
lock over at once (same host, the process is gone), say whose it was, resolve the record
from what Lambda shows, and succeed; `rollback --previous` afterwards must serve exactly a
recorded release, never the torn mixture (issue 9; before it, no record was written
before the first change and the rollback put the torn state back).

Each kill point is made deterministic with the double: the calls that must land are
answered late (applied, then held), the ones that must not are refused "update in
progress" while the run backs off; the test kills once Lambda shows exactly that state.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

import pytest
from cli_world import ENV, Cli, Running, target_of, wait_until
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


def _refuse(double: LambdaDouble, operation: str, function: str | None = None) -> None:
    double.fail(
        operation,
        status=409,
        code=CONFLICT[0],
        message=CONFLICT[1],
        function=function,
        times=None,
    )


def _aliases(world: World) -> dict[str, str | None]:
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


def before_any_write(cli: Cli, run: Running, r1: dict[str, str | None]) -> None:
    """The `started` record is written, then every first write is refused: none landed."""
    names = cli.world.env.function_names
    wait_until(
        lambda: {c.function for c in cli.double.calls_to("UpdateFunctionCode")} == set(names),
        "every function's first code update (refused)",
        running=run,
    )


def after_two_code_updates(cli: Cli, run: Running, r1: dict[str, str | None]) -> None:
    """Two functions run the new code on the old layer; two were never changed."""
    code = cli.world.target("v2", "v2").package.code_sha256  # type: ignore[union-attr]
    names = cli.world.env.function_names
    wait_until(
        lambda: (
            [n for n, (c, _) in cli.world.state().items() if c == code] == list(names[:2])
            and len(cli.double.calls_to("UpdateFunctionCode")) >= 4
        ),
        "two code updates applied, two refused",
        running=run,
    )


def after_two_of_four_aliases(cli: Cli, run: Running, r1: dict[str, str | None]) -> None:
    """Callers of two functions get the new release, callers of the other two the old."""
    names = cli.world.env.function_names
    wait_until(
        lambda: (
            [n for n, v in _aliases(cli.world).items() if v != r1[n]] == list(names[:2])
            and len(cli.double.calls_to("UpdateAlias")) >= 4
        ),
        "two aliases moved, two refused",
        running=run,
    )


def after_every_alias(cli: Cli, run: Running, r1: dict[str, str | None]) -> None:
    """Every alias moved; the run died before it could record `succeeded`."""
    wait_until(
        lambda: all(v != r1[n] for n, v in _aliases(cli.world).items()),
        "every alias moved",
        running=run,
    )


def _arrange(point: str, cli: Cli) -> None:
    double, names = cli.double, cli.world.env.function_names
    if point == "before_any_write":
        _refuse(double, "UpdateFunctionCode")
    elif point == "after_two_code_updates":
        for name in names[:2]:
            double.slow_response("UpdateFunctionCode", HELD_S, function=name)
        for name in names[2:]:
            _refuse(double, "UpdateFunctionCode", name)
    elif point == "after_two_of_four_aliases":
        for name in names[:2]:
            double.slow_response("UpdateAlias", HELD_S, function=name)
        for name in names[2:]:
            _refuse(double, "UpdateAlias", name)
    else:
        double.slow_response("UpdateAlias", HELD_S, times=len(names))


POINTS: dict[str, Callable[[Cli, Running, dict[str, str | None]], None]] = {
    "before_any_write": before_any_write,
    "after_two_code_updates": after_two_code_updates,
    "after_two_of_four_aliases": after_two_of_four_aliases,
    "after_every_alias": after_every_alias,
}


def _crash(cli: Cli, point: str) -> tuple[ReleaseRecord, Running, ReleaseRecord]:
    """R1 in place, then a CLI deploy of R2 killed at `point`: (R1, the run, R2's record)."""
    world = cli.world
    deploy(world.context(), world.target("v1", "v1"))
    (r1,) = cli.records()
    assert world.served() == target_of(r1)
    _arrange(point, cli)
    cli.double.clear_calls()
    # A refused write backs off for 30 s: the run is still waiting when it is killed.
    crashed = cli.start(*cli.deploy_args("v2", "v2"), env={"LAYERS_CONFLICT_DELAYS": "30"})
    POINTS[point](cli, crashed, {n: v for n, (v, _, _) in target_of(r1).items()})
    crashed.kill()
    for fault in cli.double.rules.faults:
        fault.times = 0
    r2 = cli.records()[0]
    assert r2.state == history.STARTED and r2.id != r1.id
    holder = cli.holder()
    assert holder is not None and holder.pid == crashed.pid
    return r1, crashed, r2


@pytest.mark.parametrize("point", list(POINTS))
def test_sigkill_then_deploy_then_rollback_serves_a_recorded_release(cli: Cli, point: str) -> None:
    world = cli.world
    r1, crashed, r2 = _crash(cli, point)
    status = cli.run("status", "--env", ENV, "--json")
    assert status.code == 0, status
    assert status.json()["unfinished_release"] == r2.id
    assert f"release {r2.id} never finished" in status.stderr

    # No --wait: a lock it could not take over would make it exit 3.
    third = cli.run(*cli.deploy_args("v3", "v3"))

    assert third.code == 0, third
    assert f"took over the {ENV} lock from deploy by" in third.stderr
    assert f"pid {crashed.pid}" in third.stderr
    assert f"release {r2.id} (deploy by" in third.stderr
    assert "never finished: resolving it first" in third.stderr
    r3, resolved = cli.records()[:2]
    assert r3.state == history.SUCCEEDED
    assert world.served() == target_of(r3)
    assert resolved.id == r2.id
    if point == "after_every_alias":
        # It died after its last write: what Lambda serves is the release, complete.
        assert resolved.state == history.SUCCEEDED
        expected = resolved
    else:
        assert resolved.state == history.FAILED
        expected = r1
    # What the new deploy read right after the resolution (its record's before-state):
    # every alias and every $LATEST exactly as the last recorded release left them.
    assert before_of(r3) == target_of(expected)
    assert "resolved by a later deploy" in (resolved.error or "")
    shown = cli.run("history", "--env", ENV, "--json")
    row = next(r for r in shown.json()["releases"] if r["id"] == r2.id)
    assert (row["state"], "resolved by a later deploy" in row["error"]) == (resolved.state, True)

    back = cli.run("rollback", "--env", ENV, "--previous")

    assert back.code == 0, back
    assert world.served() == target_of(expected)
    assert not cli.lock_present()


def test_a_run_killed_elsewhere_is_taken_over_when_its_lease_expired_and_resolved_by_rollback(
    cli: Cli,
) -> None:
    """CI: the runner died with the job; its host is not this one, so only the lease
    says it is gone. A rollback (any command that takes the lock) resolves its release."""
    r1, _, r2 = _crash(cli, "after_two_of_four_aliases")
    holder = cli.holder()
    assert holder is not None
    cli.write_lock(replace(holder, host="ci-runner-7", expires_at=time.time() - 5))

    back = cli.run("rollback", "--env", ENV, "--previous")

    assert back.code == 0, back
    assert f"took over the {ENV} lock from deploy by" in back.stderr
    assert f"@ci-runner-7 pid {holder.pid}, release {r2.id} (lease expired" in back.stderr
    assert f"release {r2.id} (deploy by" in back.stderr
    rolled, resolved = cli.records()[:2]
    assert (resolved.id, resolved.state) == (r2.id, history.FAILED)
    assert "resolved by a later rollback" in (resolved.error or "")
    # Back from R1 (what the resolution restored) to the state R1 found.
    assert rolled.serves == f"before:{r1.id}"
    assert cli.world.served() == {
        name: (entry.before.version, entry.before.code_sha256, entry.before.layers)
        for name, entry in r1.functions.items()
    }
