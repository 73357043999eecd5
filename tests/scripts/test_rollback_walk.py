"""`rollback --previous` walks back through recorded releases and never toggles.

Before issue 9, running it twice went back and then forward again (R3 -> R2 -> R3). Each
rollback now records which release it serves, so the second goes one further back. And a
deploy made after a rollback must still be rolled back to what callers had before it:
`$LATEST` then still holds the rolled-back-from release, not what the alias served.
"""

from __future__ import annotations

from lambda_double import LambdaDouble
from lambda_world import World

from scripts.release import history
from scripts.release.deploy import deploy
from scripts.release.history import ReleaseRecord
from scripts.release.rollback import RollbackRequest, rollback

PREVIOUS = RollbackRequest(previous=True)


def _target(record: ReleaseRecord) -> dict[str, tuple[str | None, str, tuple[str, ...]]]:
    return {
        name: (entry.target.version, entry.target.code_sha256, entry.target.layers)
        for name, entry in record.functions.items()
    }


def _release(world: World, tag: str) -> ReleaseRecord:
    result = deploy(world.context(), world.target(tag, tag))
    record = history.load_releases(world.store, world.env.name)[0]
    assert (record.id, record.state) == (result["release"], history.SUCCEEDED)
    assert world.served() == _target(record)
    return record


def test_rollback_twice_walks_back_two_releases(dworld: World) -> None:
    r1, r2, r3 = (_release(dworld, tag) for tag in ("v1", "v2", "v3"))

    first = rollback(dworld.context(), PREVIOUS)

    assert (first["state"], first["serves"]) == ("succeeded", r2.id)
    assert dworld.served() == _target(r2)

    second = rollback(dworld.context(), PREVIOUS)

    assert (second["state"], second["serves"]) == ("succeeded", r1.id)
    assert dworld.served() == _target(r1)
    assert dworld.served() != _target(r3)
    kinds = [(r.kind, r.serves) for r in history.load_releases(dworld.store, dworld.env.name)]
    assert kinds[:2] == [("rollback", r1.id), ("rollback", r2.id)]


def test_a_deploy_after_a_rollback_rolls_back_to_what_callers_had_before_it(
    dworld: World, lambda_double: LambdaDouble
) -> None:
    # R1, R2, back to R1 (aliases only: $LATEST keeps R2), then R3. Going back from R3
    # means R1, whose versions R3's record names beside $LATEST's R2 code and layers.
    r1 = _release(dworld, "v1")
    _release(dworld, "v2")
    rollback(dworld.context(), PREVIOUS)
    assert dworld.served() == _target(r1)
    _release(dworld, "v3")

    result = rollback(dworld.context(), PREVIOUS)

    assert (result["state"], result["serves"]) == ("succeeded", r1.id)
    assert dworld.served() == _target(r1)
