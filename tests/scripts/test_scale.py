"""Releases of many functions under Lambda's real limits (issue 16, part 1).

The double enforces the control-plane quota (15 requests/s per account and region,
GetFunction 100/s, 429 `TooManyRequestsException` beyond) and a 3 s update window after
every code or configuration update (writes and PublishVersion inside it get 409). The
client is botocore's default, as an operator's is. Every run is checked by what callers
get afterwards: each alias's version, that version's code and layers, and `$LATEST`.
"""

from __future__ import annotations

import collections
from collections.abc import Iterator

import pytest
from lambda_double import LambdaDouble
from lambda_world import World
from scale_world import (
    calls_per_function,
    code_only,
    many_functions,
    paced_timing,
    serves,
    unmetered,
)

from scripts.release.deploy import deploy
from scripts.release.rollback import RollbackRequest, rollback

WINDOW_S = 3.0
# Calls per function, counted from the double's log (every Lambda call). A code deploy:
# GetFunction on `$LATEST` and on the alias (the version it serves, with that version's
# own code and layers: the record's before-state), UpdateFunctionCode, GetFunction once
# its window is over, PublishVersion, UpdateAlias (its answer is the verification); plus,
# once per run, the few extra reads that measure the first update window. The alias's
# RevisionId comes from the last release's record: the first release after adoption has
# none and reads the alias (GetAlias) once. A rollback --previous: GetFunction on the
# alias (it still serves what the record says), UpdateAlias guarded by the recorded
# RevisionId. Only the writes (and the first release's GetAlias) spend the 15/s budget.
FIRST_DEPLOY_CALLS = 7
DEPLOY_CALLS = 6
SCOUT_READS = 5
ROLLBACK_CALLS = 2


def _deploy(world: World, double: LambdaDouble, tag: str, calls: int) -> tuple[str, str]:
    """A code deploy within `calls` per function; every caller checked afterwards."""
    target = code_only(world, tag)
    new_code = target.package.code_sha256  # type: ignore[union-attr]
    with unmetered(double):
        before = serves(world)
    double.clear_calls()

    result = deploy(world.context(timing=paced_timing()), target)

    assert result["state"] == "succeeded"
    with unmetered(double):
        deployed = serves(world)
    for name, (version, code, layers, latest_code, latest_layers) in deployed.items():
        assert version != before[name][0], name
        assert (code, layers) == (new_code, before[name][2]), name
        assert (latest_code, latest_layers) == (new_code, before[name][2]), name
    per_function = calls_per_function(double, world)
    ops = collections.Counter(c.operation for c in double.calls)
    assert per_function <= calls + SCOUT_READS / len(deployed), (per_function, ops)
    assert ops["GetFunctionConfiguration"] == 0, ops
    return new_code, next(iter(deployed.values()))[0]


def _check(world: World, double: LambdaDouble) -> None:
    """Two code deploys, then `rollback --previous`, each correct and within its calls."""
    with unmetered(double):
        before = serves(world)
    v0 = next(iter(before.values()))
    assert {s for s in before.values()} == {v0} and v0[0] == "1"
    _deploy(world, double, "v1", FIRST_DEPLOY_CALLS)
    with unmetered(double):
        first = serves(world)
    new_code, _ = _deploy(world, double, "v2", DEPLOY_CALLS)

    double.clear_calls()
    back = rollback(world.context(timing=paced_timing()), RollbackRequest(previous=True))

    assert back["state"] == "succeeded"
    with unmetered(double):
        after = serves(world)
    for name, (version, code, layers, latest_code, latest_layers) in after.items():
        assert (version, code, layers) == first[name][:3], name
        # A rollback moves aliases only: $LATEST keeps the deployed code.
        assert (latest_code, latest_layers) == (new_code, v0[2]), name
    rollback_calls = calls_per_function(double, world)
    ops = collections.Counter(c.operation for c in double.calls)
    assert rollback_calls <= ROLLBACK_CALLS, (rollback_calls, ops)


@pytest.fixture
def quota_double(moto_server: str) -> Iterator[LambdaDouble]:
    double = LambdaDouble.start(upstream=moto_server, update_window_s=WINDOW_S)
    try:
        yield double
    finally:
        double.stop()


@pytest.mark.parametrize("count", [16, 64])
def test_deploy_and_rollback_of_many_functions_keep_to_the_quota(
    quota_double: LambdaDouble, count: int
) -> None:
    _check(many_functions(quota_double, count), quota_double)
