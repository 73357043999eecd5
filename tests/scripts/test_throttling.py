"""Throttling and slow updates during a release (issue 16, parts 1 and 6).

A 429 is Lambda asking to slow down, not a failure: an undo that gave up on one left
callers torn between releases. A settle timeout says what was still updating and how
long the run waited, not that another deployment may be running.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import pytest
from lambda_double import LambdaDouble
from lambda_world import fast_timing, make_world
from scale_world import code_only, many_functions, paced_timing, serves, unmetered

from scripts.release.canary import Canary
from scripts.release.deploy import deploy
from scripts.release.release import ReleaseFailedError
from scripts.release.rollback import RollbackRequest, rollback

ALARM = "errors"
# More 429s in a row than botocore's retries allow (legacy mode: 5 attempts, standard: 3).
THROTTLED_TIMES = 6


@pytest.fixture
def quota_double(moto_server: str) -> Iterator[LambdaDouble]:
    double = LambdaDouble.start(upstream=moto_server, update_window_s=1.0)
    try:
        yield double
    finally:
        double.stop()


def test_a_throttled_undo_puts_every_alias_back_and_rollback_works_after(
    quota_double: LambdaDouble,
) -> None:
    """A canary switched back while half the functions' alias updates get 429s: every
    alias returns to the release before, and `rollback --previous` then works."""
    double = quota_double
    world = many_functions(double, 8)
    names = world.env.function_names
    first = deploy(world.context(timing=paced_timing()), code_only(world, "v1"))
    assert first["state"] == "succeeded"
    with unmetered(double):
        released = serves(world)
    double.clear_calls()
    throttled = names[::2]

    def alarms(wanted: Sequence[str]) -> Mapping[str, str]:
        # Once every alias carries the canary's weight, the alarm fires and, from then on,
        # half the functions' alias updates are throttled: the undo meets the 429s.
        moved = {c.function for c in double.calls_to("UpdateAlias")}
        if moved != set(names):
            return {n: "OK" for n in wanted}
        if not double.rules.faults:
            for name in throttled:
                double.throttle("UpdateAlias", function=name, times=THROTTLED_TIMES)
        return {n: "ALARM" for n in wanted}

    ctx = world.context(timing=paced_timing())
    ctx.alarms = alarms
    canary = Canary(percent=10, bake_s=60, alarms=(ALARM,))

    with pytest.raises(ReleaseFailedError, match="canary switched back") as failed:
        deploy(ctx, code_only(world, "v2"), canary=canary)

    assert "NOT fully restored" not in str(failed.value)
    assert all(f.fired == THROTTLED_TIMES for f in double.rules.faults)
    with unmetered(double):
        assert serves(world) == released  # aliases, their versions, code, layers, $LATEST
        weights = [
            world.raw_lambda().get_alias(FunctionName=n, Name=world.env.alias_name) for n in names
        ]
    assert all(not a.get("RoutingConfig", {}).get("AdditionalVersionWeights") for a in weights)

    back = rollback(world.context(timing=paced_timing()), RollbackRequest(previous=True))

    assert back["state"] == "succeeded"
    with unmetered(double):
        after = serves(world)
    assert {s[0] for s in after.values()} == {"1"}
    assert all(after[n][3] == released[n][3] for n in names)  # $LATEST untouched


def test_a_settle_timeout_names_what_was_updating_and_how_long_it_waited(
    moto_server: str,
) -> None:
    with LambdaDouble.start(upstream=moto_server, update_window_s=5.0) as double:
        world = make_world(double.endpoint)
        world.upload_layer("v0")
        world.upload_package("v0")
        world.create_functions()
        world.add_aliases()
        before = world.served()
        timing = fast_timing(settle_timeout_s=1.0, conflict_delays=(0.1, 0.1))

        with pytest.raises(ReleaseFailedError) as failed:
            deploy(world.context(timing=timing), code_only(world, "v1"))

        text = str(failed.value)
        assert "another deployment" not in text
        assert "$LATEST still updating (LastUpdateStatus InProgress" in text
        assert "after waiting 1s (LAYERS_SETTLE_TIMEOUT=1)" in text
        assert any(name in failed.value.headline for name in world.env.function_names)
        # Callers never moved: every alias serves what it served before.
        assert world.served() == before
