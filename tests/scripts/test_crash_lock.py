"""The deploy lock from the command line: busy (exit 3), --wait, takeover, unlock.

One deploy or rollback per environment at a time. A lock whose holder may still run (its
lease is live and it is alive on this host, or it runs elsewhere) makes a second deploy
or rollback exit 3 naming it, or queue with --wait. A lock whose lease expired, or whose
holder is provably gone, is taken over with a warning naming the old holder; `unlock`
removes one explicitly and prints what it removed. The lock objects here are written as
another run would have left them.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest
from cli_world import ENV, Cli, foreign_holder, wait_until

import artifacts
from scripts.release import history

WRITES = frozenset(
    {"UpdateFunctionCode", "UpdateFunctionConfiguration", "PublishVersion", "UpdateAlias"}
    | {"CreateAlias", "DeleteAlias", "PublishLayerVersion"}
)


@pytest.fixture
def alive() -> Iterator[int]:
    """The pid of a live process on this host that is not a deploy (it holds the lock)."""
    sleeper = subprocess.Popen(["sleep", "600"])
    try:
        yield sleeper.pid
    finally:
        sleeper.kill()
        sleeper.wait()


def _refused_lock_writes(cli: Cli) -> int:
    """Conditional creates of the lock the store refused (412): attempts that waited."""
    return len([p for p in cli.double.passed("lock.json") if p[0] == "PUT" and p[2] == 412])


def _writes(cli: Cli) -> list[str]:
    return [c.operation for c in cli.double.calls if c.operation in WRITES]


def test_a_live_holder_makes_deploy_and_rollback_exit_3_naming_it(cli: Cli, alive: int) -> None:
    cli.write_lock(foreign_holder(alive, expires_in=600))
    cli.double.clear_calls()

    deployed = cli.run(*cli.deploy_args("v1", "v1"), "--json")
    rolled = cli.run("rollback", "--env", ENV, "--previous")
    waited = cli.run(*cli.deploy_args("v1", "v1"), "--wait", "0.5")

    for finished in (deployed, rolled, waited):
        assert finished.code == 3, finished
        assert f"{ENV} is busy: deploy by ci-bot@" in finished.stderr
        assert f"pid {alive}" in finished.stderr
        assert f"unlock --env {ENV}" in finished.stderr
    result = deployed.json()
    assert result["exit_code"] == 3 and f"pid {alive}" in result["error"]
    assert _writes(cli) == []
    assert cli.records() == []
    holder = cli.holder()
    assert holder is not None and holder.token == "f" * 32  # still the other run's


def test_wait_queues_until_the_lock_is_removed_then_deploys(cli: Cli, alive: int) -> None:
    # A live process that does not renew the lock (stuck): `unlock` watches it for one and
    # a half renewal intervals of its lease (24 s: 12 s), then removes it.
    cli.write_lock(foreign_holder(alive, expires_in=600, lease_s=24))
    cli.double.clear_calls()

    queued = cli.start(*cli.deploy_args("v1", "v1"), "--wait", "120")
    # Refused, waited, refused again: it is queued, and has not touched Lambda.
    wait_until(lambda: _refused_lock_writes(cli) >= 2, "two refused lock attempts", running=queued)
    assert queued.proc.poll() is None
    assert cli.double.calls == []
    unlocked = cli.run("unlock", "--env", ENV, "--json")
    done = queued.wait()

    assert unlocked.code == 0, unlocked
    assert "removed the deploy lock held by: command=deploy, expires_at=" in unlocked.stderr
    assert f"pid={alive}" in unlocked.stderr and "user=ci-bot" in unlocked.stderr
    assert unlocked.json()["removed"]["pid"] == alive
    assert done.code == 0, done
    assert "took over" not in done.stderr
    assert [r.state for r in cli.records()] == [history.SUCCEEDED]
    assert not cli.lock_present()


@pytest.mark.parametrize(
    ("lease", "expected"),
    [pytest.param(-30.0, 0, id="expired-lease"), pytest.param(600.0, 3, id="live-lease")],
)
def test_a_holder_on_another_host_is_taken_over_only_when_its_lease_expired(
    cli: Cli, lease: float, expected: int
) -> None:
    # Nothing about another host's process is provable: only the lease decides.
    cli.write_lock(foreign_holder(4242, expires_in=lease, host="ci-runner-7"))
    if lease < 0:
        cli.wait_lock_expired()  # by the store's clock: the only one that counts

    done = cli.run(*cli.deploy_args("v1", "v1"))

    assert done.code == expected, done
    if expected == 0:
        assert (
            f"warning: took over the {ENV} lock from deploy by ci-bot@ci-runner-7 pid 4242, "
            "release 20200101T000000.000000Z-deadbeef (lease expired"
        ) in done.stderr
        assert not cli.lock_present()
    else:
        assert "busy: deploy by ci-bot@ci-runner-7 pid 4242" in done.stderr


def test_a_dead_holder_on_this_host_is_taken_over_at_once(cli: Cli) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()  # reaped: its pid names no process now
    cli.write_lock(foreign_holder(gone.pid, expires_in=600))

    done = cli.run(*cli.deploy_args("v1", "v1"))

    assert done.code == 0, done
    assert f"took over the {ENV} lock from deploy by ci-bot@" in done.stderr
    assert f"pid {gone.pid}" in done.stderr and "s left)" in done.stderr  # lease not expired


def test_an_unreadable_lock_is_taken_over_and_unlock_removes_one(cli: Cli) -> None:
    lock = artifacts.lock_name(ENV)
    cli.world.store.put_bytes(lock, b"\x00not json", overwrite=True)

    done = cli.run(*cli.deploy_args("v1", "v1"))

    assert done.code == 0, done
    assert f"took over the {ENV} lock from an unreadable lock" in done.stderr
    free = cli.run("unlock", "--env", ENV, "--json")
    assert free.code == 0, free
    assert f"{ENV}: no deploy lock to remove" in free.stderr
    assert free.json()["removed"] is None
    cli.world.store.put_bytes(lock, b"{}", overwrite=True)
    removed = cli.run("unlock", "--env", ENV, "--json")
    assert removed.json()["removed"] == {"unreadable": True}
    assert "removed the deploy lock held by: unreadable=True" in removed.stderr
    assert not cli.lock_present()


def test_a_running_deploy_is_named_with_its_release_by_a_second_one(cli: Cli) -> None:
    """The lock says which release its holder is making, as soon as that has a record."""
    held = cli.world.env.function_names[0]
    # The first run's switch of one alias is refused "update in progress" (retried every
    # second) until the test lets it through: it holds the lock meanwhile.
    refusal = cli.double.fail(
        "UpdateAlias",
        status=409,
        code="ResourceConflictException",
        message="The operation cannot be performed at this time.",
        function=held,
        times=None,
    )
    first = cli.start(*cli.deploy_args("v1", "v1"), env={"LAYERS_CONFLICT_DELAYS": "1," * 59 + "1"})
    wait_until(
        lambda: cli.double.calls_to("UpdateAlias", held), "the first run's switch", running=first
    )
    (record,) = cli.records()

    second = cli.run(*cli.deploy_args("v2", "v2"))
    refusal.times = 0
    done = first.wait()

    assert second.code == 3, second
    assert "busy: deploy by " in second.stderr
    assert f"pid {first.pid}, release {record.id} (lease" in second.stderr
    assert done.code == 0, done
    assert [r.id for r in cli.records()] == [record.id]
