"""A lock that knows its holder is alive (issue 16, part 3).

- The lease is measured by the store's clock (S3's LastModified against its Date header;
  a directory's mtime against the host's clock): a caller whose clock runs 300 s ahead
  never takes over a live lock, and one whose clock runs behind still takes over a lock
  whose lease really expired.
- `unlock` refuses a lock whose holder is renewing it, naming who holds it and since
  when; `--force` asks the live holder to stop: it puts back what it changed, records
  why, and releases the lock, and the run queued behind it goes next. Before, `unlock`
  deleted it while the first run was switching; a second deploy then "restored" the
  first one's release while its alias writes still landed.
- `prune-versions --apply` holds the lock: during `rollback --to` it exits 3 (or queues
  with --wait) and never deletes the version the rollback moves to.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from cli_world import ENV, Cli, target_of, wait_until
from lambda_double_api import Fault
from lambda_world import World

from scripts.errors import BusyError
from scripts.release import history
from scripts.release.deploy import deploy
from scripts.release.lock import acquire, read_holder
from scripts.release.timing import Timing
from scripts.store import LocalStore, Store

LEASE_S = 30.0
SKEW_S = 300.0


def _clock(offset: float) -> Timing:
    """A caller whose clock is `offset` seconds off; quick polls, a 30 s lease."""
    return Timing(
        lock_lease_s=LEASE_S, clock=lambda: time.time() + offset, sleep=lambda s: time.sleep(0.05)
    )


@pytest.fixture(params=["s3", "directory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "directory":
        return LocalStore(tmp_path / "store")
    world: World = request.getfixturevalue("world")
    return world.store


@pytest.mark.parametrize("skew", [SKEW_S, -SKEW_S], ids=["caller-ahead", "holder-behind"])
def test_a_skewed_clock_never_takes_over_a_live_lock(store: Store, skew: float) -> None:
    # caller-ahead: the holder's clock is right, the second caller's runs 300 s ahead.
    # holder-behind: the holder's clock runs 300 s behind (its expires_at is in the past
    # for everyone else), the second caller's is right.
    holder_offset, caller_offset = (0.0, skew) if skew > 0 else (skew, 0.0)
    held = acquire(store, "x", command="deploy", timing=_clock(holder_offset))

    with pytest.raises(BusyError, match=r"x is busy: deploy by .* \(lease \d+s left\)"):
        acquire(store, "x", command="deploy", timing=_clock(caller_offset))

    holder = read_holder(store, "x")[0]
    assert holder is not None and holder.token == held.holder.token  # still the first run's
    assert held.release()


def test_a_lease_expired_by_the_stores_clock_is_taken_over_whatever_the_callers_clock(
    store: Store,
) -> None:
    from scripts.release.lock import look

    short = Timing(lock_lease_s=1.0)
    dead = acquire(store, "x", command="deploy", timing=short)  # never renewed: it "died"
    wait_until(
        lambda: (seen := look(store, "x")) is not None and seen.expired(LEASE_S),
        "the lease to expire by the store's clock",
        timeout=30,
    )
    said: list[str] = []

    taken = acquire(store, "x", command="deploy", timing=_clock(-SKEW_S), say=said.append)

    assert taken.taken_over is not None and taken.taken_over.token == dead.holder.token
    assert said and "took over the x lock from deploy by" in said[0]
    assert "lease expired" in said[0]


def _refuse_switch(cli: Cli, function: str) -> Fault:
    """The run's switch of `function` is refused "update in progress" until the test lifts
    it (retried every second): the run holds the lock, switching, meanwhile."""
    return cli.double.fail(
        "UpdateAlias",
        status=409,
        code="ResourceConflictException",
        message="The operation cannot be performed at this time.",
        function=function,
        times=None,
    )


SLOW_CONFLICTS = {"LAYERS_CONFLICT_DELAYS": "1," * 119 + "1"}


def test_unlock_during_a_switch_is_refused_and_force_stops_the_run_before_the_next(
    cli: Cli,
) -> None:
    world = cli.world
    deploy(world.context(), world.target("v1", "v1"))
    (r1,) = cli.records()
    served = world.served()
    held = world.env.function_names[0]
    refusal = _refuse_switch(cli, held)
    cli.double.clear_calls()
    first = cli.start(*cli.deploy_args("v2", "v2"), env=SLOW_CONFLICTS)
    wait_until(lambda: cli.double.calls_to("UpdateAlias", held), "the switch", running=first)
    r2 = cli.records()[0]
    holder = cli.holder()
    assert holder is not None and holder.pid == first.pid

    refused = cli.run("unlock", "--env", ENV, "--json")
    second = cli.run(*cli.deploy_args("v3", "v3"))

    assert refused.code == 3, refused
    line = refused.stderr.strip().splitlines()[-1]
    assert line.startswith(f"error: the {ENV} lock is held by deploy by "), line
    assert f"pid {first.pid}, release {r2.id}" in line and ", since 20" in line
    assert "its holder is alive" in line and f"unlock --env {ENV} --force" in line
    assert second.code == 3, second
    after = cli.holder()
    assert after is not None and after.token == holder.token  # nobody removed it

    forced = cli.run("unlock", "--env", ENV, "--force", "--json")
    assert forced.code == 0, forced
    assert forced.json()["revoked"]["pid"] == first.pid
    assert "asked the lock's live holder to stop" in forced.stderr
    queued = cli.start(*cli.deploy_args("v3", "v3"), "--wait", "120")
    # The run sees the mark at its next renewal (a third of its 30 s lease at most).
    wait_until(
        lambda: "asked to stop by unlock --force" in first.stderr(), "the stop", running=first
    )
    refusal.times = 0
    stopped = first.wait()
    done = queued.wait()

    assert stopped.code == 1, stopped
    assert done.code == 0, done
    assert "took over" not in done.stderr and "never finished" not in done.stderr
    r3, r2_after, r1_after = cli.records()
    assert (r1_after.id, r2_after.id) == (r1.id, r2.id)
    # The stopped run put back what it changed and says why; nobody else "resolved" it.
    assert r2_after.state == history.FAILED
    assert "asked to stop by unlock --force" in (r2_after.error or "")
    assert "resolved by" not in (r2_after.error or "")
    assert r3.state == history.SUCCEEDED
    assert {n: e.before.version for n, e in r3.functions.items()} == {
        n: v for n, (v, _, _) in served.items()
    }
    assert world.served() == target_of(r3)
    status = cli.run("status", "--env", ENV, "--json")
    assert status.json()["current_release"] == r3.id
    assert not cli.lock_present()


def test_prune_versions_during_a_rollback_is_refused_or_queued_and_keeps_its_target(
    cli: Cli,
) -> None:
    world = cli.world
    for tag in ("v1", "v2", "v3"):
        deploy(world.context(), world.target(tag, tag))
    r3, _, r1 = cli.records()
    held = world.env.function_names[0]
    refusal = _refuse_switch(cli, held)
    cli.double.clear_calls()
    rolling = cli.start("rollback", "--env", ENV, "--to", r1.id, env=SLOW_CONFLICTS)
    wait_until(lambda: cli.double.calls_to("UpdateAlias", held), "the switch", running=rolling)

    busy = cli.run("prune-versions", "--env", ENV, "--keep", "1", "--apply", "--json")
    queued = cli.start("prune-versions", "--env", ENV, "--keep", "1", "--apply", "--wait", "120")
    wait_until(
        lambda: len([p for p in cli.double.passed("lock.json") if p[2] == 412]) >= 2,
        "the queued prune's refused lock attempts",
        running=queued,
    )
    assert cli.double.calls_to("DeleteFunction") == []
    refusal.times = 0
    rolled = rolling.wait()
    pruned = queued.wait()

    assert busy.code == 3, busy
    assert f"{ENV} is busy: rollback by " in busy.stderr
    assert busy.json()["exit_code"] == 3
    assert rolled.code == 0, rolled
    assert pruned.code == 0, pruned
    assert world.served() == target_of(r1)
    raw = world.raw_lambda()
    for name, entry in r1.functions.items():
        assert entry.target.version is not None
        version = raw.get_function_configuration(FunctionName=name, Qualifier=entry.target.version)
        assert version["CodeSha256"] == entry.target.code_sha256
    # It did prune, after the rollback: versions neither release serves nor names.
    assert cli.double.calls_to("DeleteFunction")
    assert r3.id != r1.id
