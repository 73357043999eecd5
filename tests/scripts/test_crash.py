"""SIGKILL in the middle of a CLI deploy, then `deploy`, then `rollback --previous`.

A killed run leaves its lock, a `started` release record and possibly torn functions (new
code on the old layer; some aliases moved, others not). The next deploy must take the
lock over at once (same host, the process is gone), say whose it was, resolve the record
from what Lambda shows, and succeed; `rollback --previous` afterwards must serve exactly a
recorded release, never the torn mixture (issue 9; before it, no record was written
before the first change and the rollback put the torn state back).

The kill points (crash_points.py) are made deterministic with the double.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from cli_world import ENV, Cli, target_of
from crash_points import POINTS, before_of, crash

from scripts.release import history


@pytest.mark.parametrize("point", list(POINTS))
def test_sigkill_then_deploy_then_rollback_serves_a_recorded_release(cli: Cli, point: str) -> None:
    world = cli.world
    r1, crashed, r2 = crash(cli, point)
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
    says it is gone. A rollback (any command that takes the lock) resolves its release,
    which leaves callers on R1: `--previous` from the torn mixture ends there."""
    r1, _, r2 = crash(cli, "after_two_of_four_aliases")
    holder = cli.holder()
    assert holder is not None
    cli.write_lock(replace(holder, host="ci-runner-7", lease_s=1.0))
    cli.wait_lock_expired()  # the lease counts by the store's clock, not the caller's

    back = cli.run("rollback", "--env", ENV, "--previous")

    assert back.code == 0, back
    assert f"took over the {ENV} lock from deploy by" in back.stderr
    assert f"@ci-runner-7 pid {holder.pid}, release {r2.id} (lease expired" in back.stderr
    assert f"release {r2.id} (deploy by" in back.stderr
    resolved = cli.records()[0]
    assert (resolved.id, resolved.state) == (r2.id, history.FAILED)
    assert "resolved by a later rollback" in (resolved.error or "")
    # Callers were served R2 by two functions and R1 by two: the last release they were
    # all served is R1, which the resolution put back; going further back would skip it.
    assert "nothing further to roll back" in back.stderr
    assert cli.world.served() == target_of(r1)
