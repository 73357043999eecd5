"""A release plans each alias from the record of our last write to it (issue 16, part 1).

GetAlias spends the writes' 15/s budget; GetFunction on the alias (its own 100/s) says
which version callers get. When that is the version the last record says, the alias's
RevisionId comes from the record and guards the switch: a stale one is refused by Lambda
(412), and the switch reads the alias again, going on only when callers are served what
the plan took from the record. Every case checks what every caller is served afterwards.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from lambda_double import LambdaDouble
from lambda_world import World

import artifacts
from scripts.release import history
from scripts.release.deploy import deploy
from scripts.release.release import ReleaseFailedError
from scripts.release.rollback import RollbackRequest, rollback


def _callers(world: World) -> dict[str, Any]:
    """Per function: (version, code, layers) through the alias, its weights, and $LATEST."""
    raw = world.raw_lambda()
    alias = world.env.alias_name
    weights = {
        n: raw.get_alias(FunctionName=n, Name=alias).get("RoutingConfig", {})
        for n in world.env.function_names
    }
    return {"served": world.served(), "weights": weights, "latest": world.state()}


def _touch(world: World, **changes: Any) -> str:
    """Someone changes the first function's alias by hand (outside the tool)."""
    touched = world.env.function_names[0]
    world.raw_lambda().update_alias(FunctionName=touched, Name=world.env.alias_name, **changes)
    return touched


def _newest(world: World) -> history.ReleaseRecord:
    return history.load_releases(world.store, world.env.name)[0]


def test_a_second_deploy_reads_no_alias_and_records_what_it_left(
    dworld: World, lambda_double: LambdaDouble
) -> None:
    deploy(dworld.context(), dworld.target("v1", "v1"))
    lambda_double.clear_calls()

    deploy(dworld.context(), dworld.target("v2", "v2"))

    assert lambda_double.calls_to("GetAlias") == []
    raw = dworld.raw_lambda()
    record = _newest(dworld)
    for name in dworld.env.function_names:
        alias = raw.get_alias(FunctionName=name, Name=dworld.env.alias_name)
        seen = record.functions[name].alias_seen
        assert seen is not None
        assert (seen.version, seen.revision_id) == (alias["FunctionVersion"], alias["RevisionId"])
        assert dworld.served()[name][1:] == dworld.state()[name]  # alias and $LATEST agree


def test_an_alias_touched_since_the_record_is_read_again_and_the_release_goes_on(
    dworld: World, lambda_double: LambdaDouble
) -> None:
    deploy(dworld.context(), dworld.target("v1", "v1"))
    touched = _touch(dworld, Description="by hand")
    lambda_double.clear_calls()

    deploy(dworld.context(), dworld.target("v2", "v2"))

    assert [c.function for c in lambda_double.calls_to("GetAlias")] == [touched]
    now = _callers(dworld)
    v2 = dworld.state()[touched]
    for name in dworld.env.function_names:
        assert now["served"][name][1:] == now["latest"][name] == v2
    # The run re-read the alias: its record does not vouch for it, the next plan reads it.
    assert _newest(dworld).functions[touched].alias_seen is None


def test_an_alias_given_weights_since_the_record_fails_the_release_whole(
    dworld: World, lambda_double: LambdaDouble
) -> None:
    deploy(dworld.context(), dworld.target("v1", "v1"))
    alias = dworld.raw_lambda().get_alias(
        FunctionName=dworld.env.function_names[0], Name=dworld.env.alias_name
    )
    touched = _touch(dworld, RoutingConfig={"AdditionalVersionWeights": {"1": 0.25}})
    before = _callers(dworld)
    assert alias["FunctionVersion"] == before["served"][touched][0]

    with pytest.raises(ReleaseFailedError) as caught:
        deploy(dworld.context(), dworld.target("v2", "v2"))

    assert "changed by another writer since our last release" in str(
        caught.value.runs[touched].error
    )
    assert _callers(dworld) == before  # every alias, weight and $LATEST as it was
    # The failed run read the alias: the next one plans from that and goes through.
    deploy(dworld.context(), dworld.target("v2", "v2"))
    after = _callers(dworld)
    for name in dworld.env.function_names:
        assert after["served"][name][1:] == after["latest"][name]
        assert after["weights"][name].get("AdditionalVersionWeights", {}) == {}


def test_a_rollback_after_the_alias_was_touched_checks_the_version_it_goes_to(
    dworld: World, lambda_double: LambdaDouble
) -> None:
    deploy(dworld.context(), dworld.target("v1", "v1"))
    first = dworld.served()
    deploy(dworld.context(), dworld.target("v2", "v2"))
    touched = _touch(dworld, Description="by hand")
    lambda_double.clear_calls()

    rollback(dworld.context(), RollbackRequest(previous=True))

    assert dworld.served() == first
    reads = {c.function for c in lambda_double.calls_to("GetAlias")}
    assert reads == {touched}


def test_a_rollback_refuses_a_record_that_does_not_match_the_version_it_names(
    dworld: World, lambda_double: LambdaDouble
) -> None:
    deploy(dworld.context(), dworld.target("v1", "v1"))
    deploy(dworld.context(), dworld.target("v2", "v2"))
    before = _callers(dworld)
    touched = dworld.env.function_names[0]
    # Both records altered alike in the store (R2's before-state and R1's target, so they
    # still agree), and the alias touched since: the switch reads the alias again and,
    # with it, the version the records name, instead of trusting them.
    r2, r1 = history.load_releases(dworld.store, dworld.env.name)
    for record, part in ((r2, "before"), (r1, "target")):
        name = artifacts.release_record(dworld.env.name, record.id)
        data = json.loads(dworld.store.read_bytes(name))
        data["functions"][touched][part]["code_sha256"] = "A" * 43 + "="
        dworld.store.put_bytes(name, json.dumps(data).encode(), overwrite=True)
    _touch(dworld, Description="by hand")

    with pytest.raises(ReleaseFailedError) as caught:
        rollback(dworld.context(), RollbackRequest(previous=True))

    assert "refusing a record that does not match Lambda" in str(caught.value.runs[touched].error)
    assert _callers(dworld) == before
