"""A history write that fails, at each of a release's writes: started, versions, succeeded.

Before issue 9 a failed history write left a release in place that nobody had recorded.
Now the record is written before the first change; a write that fails puts the release
back and records `failed`; a write whose answer is lost although it landed (a timeout, or
a retry refused by our own condition) is read back and counts as written, so the history
never says `succeeded` for a release Lambda no longer serves (or the reverse). Whatever
happens, the next deploy and `rollback --previous` work.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from lambda_double import LambdaDouble
from lambda_world import World

from scripts.errors import ToolError
from scripts.release import history
from scripts.release.deploy import deploy
from scripts.release.history import ReleaseRecord
from scripts.release.release import ReleaseFailedError
from scripts.release.rollback import RollbackRequest, rollback
from scripts.store import Store, Stored

WRITES = {"started": 1, "versions": 2, "succeeded": 3}
FUNCTION_WRITES = frozenset(
    {"UpdateFunctionCode", "UpdateFunctionConfiguration", "PublishVersion", "UpdateAlias"}
    | {"CreateAlias", "DeleteAlias"}
)


@dataclass
class FlakyRecords:
    """A store whose n-th release-record writes (1-based, in `fail`) raise: before the
    object is written, or (`landed`) after it was, as when the answer is lost."""

    inner: Store
    fail: frozenset[int]
    landed: bool = False
    writes: int = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def put_bytes(
        self, name: str, data: bytes, *, overwrite: bool, if_match: str | None = None
    ) -> str:
        if "/releases/" in name:
            self.writes += 1
            if self.writes in self.fail:
                if self.landed:
                    self.inner.put_bytes(name, data, overwrite=overwrite, if_match=if_match)
                raise ToolError(f"{name}: PutObject failed: injected (landed: {self.landed})")
        return self.inner.put_bytes(name, data, overwrite=overwrite, if_match=if_match)

    def get(self, name: str) -> Stored | None:
        return self.inner.get(name)


def _records(world: World) -> list[ReleaseRecord]:
    return history.load_releases(world.store, world.env.name)


def _target(record: ReleaseRecord) -> dict[str, tuple[str | None, str, tuple[str, ...]]]:
    return {
        name: (entry.target.version, entry.target.code_sha256, entry.target.layers)
        for name, entry in record.functions.items()
    }


def _lock_free(world: World) -> bool:
    from scripts.release.lock import read_holder

    return not read_holder(world.store, world.env.name)[2]


def _then_deploy_and_roll_back(world: World, served: object) -> None:
    """Nothing is left blocked: a deploy works, and rollback --previous undoes it."""
    assert deploy(world.context(), world.target("v3", "v3"))["state"] == "succeeded"
    rollback(world.context(), RollbackRequest(previous=True))
    assert world.served() == served


@pytest.mark.parametrize("write", list(WRITES))
def test_a_failed_history_write_puts_the_release_back_and_records_it(
    dworld: World, lambda_double: LambdaDouble, write: str
) -> None:
    deploy(dworld.context(), dworld.target("v1", "v1"))
    state, served = dworld.state(), dworld.served()
    known = len(_records(dworld))
    ctx = dworld.context()
    ctx.store = FlakyRecords(dworld.store, fail=frozenset({WRITES[write]}))  # type: ignore[assignment]
    lambda_double.clear_calls()

    with pytest.raises(ToolError, match="injected") as caught:
        deploy(ctx, dworld.target("v2", "v2"))

    assert (dworld.state(), dworld.served()) == (state, served)
    assert _lock_free(dworld)
    if write == "started":
        # Nothing was changed, so there is nothing to record.
        assert not isinstance(caught.value, ReleaseFailedError)
        assert [c.operation for c in lambda_double.calls if c.operation in FUNCTION_WRITES] == []
        assert len(_records(dworld)) == known
    else:
        assert isinstance(caught.value, ReleaseFailedError)
        assert "history write failed" in caught.value.headline
        record = _records(dworld)[0]
        assert len(_records(dworld)) == known + 1
        assert record.state == history.FAILED
        assert "history write failed" in (record.error or "")
    _then_deploy_and_roll_back(dworld, served)


@pytest.mark.parametrize("write", list(WRITES))
def test_a_history_write_that_landed_although_it_failed_counts_as_written(
    dworld: World, write: str
) -> None:
    deploy(dworld.context(), dworld.target("v1", "v1"))
    served = dworld.served()
    ctx = dworld.context()
    ctx.store = FlakyRecords(dworld.store, fail=frozenset({WRITES[write]}), landed=True)  # type: ignore[assignment]

    result = deploy(ctx, dworld.target("v2", "v2"))

    record = _records(dworld)[0]
    assert (result["state"], result["release"]) == ("succeeded", record.id)
    assert record.state == history.SUCCEEDED
    assert dworld.served() == _target(record)
    assert _lock_free(dworld)
    rollback(dworld.context(), RollbackRequest(previous=True))
    assert dworld.served() == served


def test_a_release_whose_end_cannot_be_recorded_at_all_is_resolved_by_the_next_deploy(
    dworld: World,
) -> None:
    deploy(dworld.context(), dworld.target("v1", "v1"))
    state, served = dworld.state(), dworld.served()
    ctx = dworld.context()
    # `succeeded` fails, and so does `failed` after the release was put back.
    ctx.store = FlakyRecords(dworld.store, fail=frozenset({3, 4}))  # type: ignore[assignment]

    with pytest.raises(ReleaseFailedError, match="failure record was not written"):
        deploy(ctx, dworld.target("v2", "v2"))

    assert (dworld.state(), dworld.served()) == (state, served)
    left = _records(dworld)[0]
    assert left.state == history.STARTED
    next_ctx = dworld.context()
    assert deploy(next_ctx, dworld.target("v3", "v3"))["state"] == "succeeded"
    assert any(f"release {left.id}" in line and "never finished" in line for line in dworld.said)
    resolved = next(r for r in _records(dworld) if r.id == left.id)
    assert resolved.state == history.FAILED
    assert "resolved by a later deploy" in (resolved.error or "")
    rollback(dworld.context(), RollbackRequest(previous=True))
    assert dworld.served() == served
