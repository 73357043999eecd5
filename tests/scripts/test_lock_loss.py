"""A lock holder that stalls (a paused VM, a stopped process) and wakes up without its lock.

The classic failure of leases: the holder is not dead, only slow. Its lease runs out (or
a person runs `unlock`, sure it is gone), another deploy takes the lock, resolves the
stalled run's release and makes its own. When the stalled run wakes up, it must find out
that the lock is no longer its own before it writes anything again -- above all before
it "puts back" what it changed, which another release has since replaced -- and leave
the release to the new holder. The stall is a SIGSTOP while one of its writes is held.
"""

from __future__ import annotations

import signal

import pytest
from cli_world import ENV, Cli, target_of, wait_until
from crash_points import aliases

from scripts.release import history
from scripts.release.deploy import deploy


@pytest.mark.parametrize("how", ["lease-expired", "unlocked"])
def test_a_stalled_run_that_lost_its_lock_changes_nothing_when_it_wakes(cli: Cli, how: str) -> None:
    world, double = cli.world, cli.double
    deploy(world.context(), world.target("v1", "v1"))
    (r1,) = cli.records()
    first = {n: v for n, (v, _, _) in target_of(r1).items()}
    held = world.env.function_names[0]
    double.slow_response("UpdateAlias", 4.0, function=held)
    double.clear_calls()
    # Expired: a short lease. Unlocked: `unlock` sees the stalled run miss a renewal (one
    # and a half intervals of a 12 s lease, by the store's clock) and removes the lock
    # before the lease expires.
    lease = {"LAYERS_LOCK_LEASE": "3" if how == "lease-expired" else "12"}
    stalled = cli.start(*cli.deploy_args("v2", "v2"), env=lease)
    wait_until(
        lambda: all(v != first[n] for n, v in aliases(world).items()),
        "every alias switched",
        running=stalled,
    )
    stalled.signal(signal.SIGSTOP)
    (r2,) = [r for r in cli.records() if r.id != r1.id]
    if how == "unlocked":
        assert cli.run("unlock", "--env", ENV).code == 0

    other = cli.run(*cli.deploy_args("v3", "v3"), "--wait", "60", env=lease)

    assert other.code == 0, other
    r3 = cli.records()[0]
    assert world.served() == target_of(r3)
    stalled.signal(signal.SIGCONT)
    woke = stalled.wait()

    # Nothing it did after waking undid the other release.
    assert world.served() == target_of(r3)
    assert woke.code == 1, woke
    assert "the new lock holder resolves this release" in woke.stderr
    assert "history write failed" not in woke.stderr
    records = {r.id: r for r in cli.records()}
    assert records[r3.id].state == history.SUCCEEDED
    assert records[r2.id].state == history.SUCCEEDED  # completed: every alias had moved
    assert "resolved by a later deploy" in (records[r2.id].error or "")
    back = cli.run("rollback", "--env", ENV, "--previous")
    assert back.code == 0, back
    assert world.served() == target_of(records[r2.id])
