"""Another writer moves an alias right after our switch landed: the undo must leave it.

The undo reverts a write only while the resource still carries the revision our write
left. That revision must be the one our write's answer reports: read afterwards, it is
whatever the alias carries by then -- another writer's, if one came in between -- and the
undo would take that writer's change for ours and overwrite it. The undo comes from the
next function's switch failing (functions switch one at a time here, so in order).
"""

from __future__ import annotations

import threading
import time

import pytest
from lambda_double import LambdaDouble
from lambda_world import World, fast_timing

from scripts.release.deploy import deploy
from scripts.release.release import ReleaseFailedError


def test_an_alias_moved_by_another_writer_after_our_switch_is_left_alone(
    dworld: World, lambda_double: LambdaDouble
) -> None:
    deploy(dworld.context(), dworld.target("v1", "v1"))
    served = dworld.served()
    racer_fn = dworld.env.function_names[0]
    before = served[racer_fn][0]
    raw = dworld.raw_lambda()
    alias = dworld.env.alias_name
    # Our switch of this alias lands at once; its answer comes a moment later (under the
    # client's 3 s timeout). Meanwhile someone moves the alias to version 1.
    lambda_double.slow_response("UpdateAlias", 1.5, function=racer_fn)
    failing = dworld.env.function_names[1]
    lambda_double.fail(
        "UpdateAlias", status=500, code="ServiceException", message="boom", function=failing
    )
    raced = threading.Event()

    def race() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            now = raw.get_alias(FunctionName=racer_fn, Name=alias)["FunctionVersion"]
            if now != before:  # our switch landed
                raw.update_alias(FunctionName=racer_fn, Name=alias, FunctionVersion="1")
                raced.set()
                return
            time.sleep(0.02)

    racer = threading.Thread(target=race, daemon=True)
    racer.start()

    with pytest.raises(ReleaseFailedError) as caught:
        deploy(dworld.context(timing=fast_timing(lambda_workers=1)), dworld.target("v2", "v2"))
    racer.join(timeout=60)

    assert raced.is_set()
    assert dworld.served()[racer_fn][0] == "1"  # the other writer's change stands
    run = caught.value.runs[racer_fn]
    assert any("switch left at alias on version 1" in note for note in run.notes), run.notes
    for name in dworld.env.function_names[1:]:
        assert dworld.served()[name] == served[name]
