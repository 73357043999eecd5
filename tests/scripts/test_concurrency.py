"""Two CLI deploys of different releases at once, with random jitter, several trials.

Before issue 9 both ran: the failing one's restore reverted the winner, which still
exited 0 with a "succeeded" record, and a later `rollback --previous` served a code/layer
pair that was never a release. Now the lock lets one run at a time: the other exits 3
naming it (or, with --wait, runs after it). Each trial checks what every alias serves
against the history: exactly one succeeded release's target, no failed record, and
`rollback --previous` afterwards back on a real recorded release.

The trials continue on one world, so each starts from what the previous one left (a
release that a rollback went back to). The seed is in every failure message.
"""

from __future__ import annotations

import random
import time

import pytest
from cli_world import ENV, Cli, target_of

from scripts.release import history
from scripts.release.deploy import deploy

TRIALS = 2  # per mode (4 in all: make test stays under 15 min); each is 2 deploys + a rollback
MAX_JITTER_S = 0.4


@pytest.mark.parametrize("wait", [False, True], ids=["exit-3", "wait"])
def test_two_deploys_at_once_leave_exactly_one_recorded_release_live(cli: Cli, wait: bool) -> None:
    seed = random.randrange(2**32)  # noqa: S311 - jitter, not secrets
    rng = random.Random(seed)  # noqa: S311
    world = cli.world
    deploy(world.context(), world.target("v1", "v1"))  # a release to go back to
    for trial in range(TRIALS):
        why = f"seed {seed}, trial {trial}"
        served_before = world.served()
        known = {r.id for r in cli.records()}
        tags = [f"a{trial}", f"b{trial}"]
        rng.shuffle(tags)
        arguments = [
            cli.deploy_args(tag, tag, *(["--wait", "120"] if wait else [])) for tag in tags
        ]

        first = cli.start(*arguments[0])
        time.sleep(rng.uniform(0, MAX_JITTER_S))
        second = cli.start(*arguments[1])
        runs = [first.wait(), second.wait()]

        codes = sorted(r.code for r in runs)
        assert codes in ([0, 0], [0, 3]) if not wait else codes == [0, 0], (why, *runs)
        new = [r for r in cli.records() if r.id not in known]
        assert [r.state for r in new] == [history.SUCCEEDED] * codes.count(0), (why, new)
        for loser, winner in ((0, 1), (1, 0)):
            if runs[loser].code == 3:
                assert f"pid {(first, second)[winner].pid}" in runs[loser].stderr, why
                assert f"{ENV} is busy: deploy by" in runs[loser].stderr, why
        newest = new[0]
        assert world.served() == target_of(newest), why
        if len(new) == 2:
            # One after the other: the later one started once the earlier had ended.
            later, earlier = new
            assert earlier.ended_at is not None and later.started_at >= earlier.ended_at, why
            assert before_state(later) == target_of(earlier), why

        back = cli.run("rollback", "--env", ENV, "--previous")

        assert back.code == 0, (why, back)
        expected = target_of(new[1]) if len(new) == 2 else served_before
        assert world.served() == expected, why
        assert not cli.lock_present(), why
    states = {r.state for r in cli.records()}
    assert states == {history.SUCCEEDED}, (seed, states)


def before_state(
    record: history.ReleaseRecord,
) -> dict[str, tuple[str | None, str, tuple[str, ...]]]:
    """What a release found live, in `World.served()`'s shape."""
    return {
        name: (entry.before.version, entry.before.code_sha256, entry.before.layers)
        for name, entry in record.functions.items()
    }
