"""A record's before-state is what callers were served: the alias's version with that
version's own code and layers (issue 16, part 5).

Before the fix a record kept the alias's version number beside `$LATEST`'s code and
layers. Rollback moves aliases only, so after any rollback (or a torn or killed run) those
differ, and `rollback --previous` refused its own record: "version 1 holds ..., the record
says ...: refusing a record that does not match Lambda". Each test below is one way an
operator got there; each checks what every alias serves afterwards.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from cli_world import ENV, Cli, target_of, wait_until
from crash_points import HELD_S, aliases, crash
from lambda_world import World, client_error, fail_calls

import artifacts
from scripts.release import history, plan
from scripts.release.deploy import deploy
from scripts.release.history import ReleaseRecord
from scripts.release.lambda_api import Alias, Api, Latest, Version
from scripts.release.release import ReleaseFailedError
from scripts.release.rollback import RollbackRequest, rollback
from scripts.release.status import status

PREVIOUS = RollbackRequest(previous=True)


def _release(world: World, tag: str) -> ReleaseRecord:
    deploy(world.context(), world.target(tag, tag))
    record = history.load_releases(world.store, world.env.name)[0]
    assert record.state == history.SUCCEEDED
    assert world.served() == target_of(record)
    return record


def before_of(record: ReleaseRecord) -> dict[str, tuple[str | None, str, tuple[str, ...]]]:
    return {
        name: (entry.before.version, entry.before.code_sha256, entry.before.layers)
        for name, entry in record.functions.items()
    }


def test_rollback_after_rolling_back_to_the_state_before_the_first_release(
    dworld: World,
) -> None:
    """Deploy, rollback --previous, deploy, rollback --previous: the emergency path."""
    r1 = _release(dworld, "v1")
    rollback(dworld.context(), PREVIOUS)
    first = dworld.served()  # version 1: the baseline of the code Terraform created
    assert first == before_of(r1)
    r2 = _release(dworld, "v2")
    # What R2 found is what callers were served, not `$LATEST` (still R1's code).
    assert before_of(r2) == first

    result = rollback(dworld.context(), PREVIOUS)

    assert (result["state"], result["serves"]) == ("succeeded", f"before:{r2.id}")
    assert dworld.served() == first


def _torn_run(world: World) -> tuple[ReleaseRecord, str, dict[str, Any]]:
    """R1, R2, then R3 whose switch failed on one function and whose undo was throttled
    on another: that one is left on R3's version while its `$LATEST` went back.
    Returns (R2, the torn function, what every alias serves now)."""
    _release(world, "v1")
    r2 = _release(world, "v2")
    names = world.env.function_names
    torn, failing = names[0], names[-1]
    seen: dict[str, int] = {}
    active = [True]

    def throttle(params: dict[str, Any]) -> Any:
        name = params["FunctionName"]
        seen[name] = seen.get(name, 0) + 1
        if active[0] and (name == failing or (name == torn and seen[name] > 1)):
            return client_error("TooManyRequestsException", "UpdateAlias", 429, "Rate exceeded")
        return None

    fail_calls(world.lam, "UpdateAlias", throttle)
    with pytest.raises(ReleaseFailedError):
        deploy(world.context(), world.target("v3", "v3"))
    active[0] = False
    torn_state = world.served()
    assert torn_state[torn] != target_of(r2)[torn]  # left on R3's version
    assert {n: s for n, s in torn_state.items() if n != torn} == {
        n: s for n, s in target_of(r2).items() if n != torn
    }
    return r2, torn, torn_state


def test_rollback_after_a_torn_run(dworld: World) -> None:
    """The next release finds the torn state; rolling that release back returns callers
    to exactly what they had."""
    _, _, torn_state = _torn_run(dworld)
    r4 = _release(dworld, "v4")
    assert before_of(r4) == torn_state

    result = rollback(dworld.context(), PREVIOUS)

    assert result["state"] == "succeeded"
    assert dworld.served() == torn_state


def test_rollback_right_after_a_torn_run_returns_to_what_callers_all_had(dworld: World) -> None:
    """Before: "the aliases serve no recorded release". Callers are on a mixture of the
    failed run's before-state and its target: the last state they were all served is R2."""
    r2, _, _ = _torn_run(dworld)

    result = rollback(dworld.context(), PREVIOUS)

    assert (result["state"], result["serves"]) == ("succeeded", r2.id)
    assert dworld.served() == target_of(r2)


def test_rollback_after_a_killed_run_whose_record_was_deleted(cli: Cli) -> None:
    """Killed after two of four aliases moved; someone deleted its `started` record, so
    nothing resolves it: callers get R2 from two functions and R1 from the other two,
    which run R2's code on `$LATEST` behind R1's version. The next release finds that
    mixture; rolling it back returns callers to exactly that mixture."""
    world = cli.world
    _, _, r2 = crash(cli, "after_two_of_four_aliases")
    world.store.delete(artifacts.release_record(ENV, r2.id))
    torn = world.served()

    third = cli.run(*cli.deploy_args("v3", "v3"))

    assert third.code == 0, third
    r3 = cli.records()[0]
    assert before_of(r3) == torn
    back = cli.run("rollback", "--env", ENV, "--previous")
    assert back.code == 0, back
    assert world.served() == torn


def test_rollback_after_a_killed_canary_returns_to_the_release_callers_were_served(
    cli: Cli,
) -> None:
    """SIGKILL during the bake: callers were served R2 (90 %) and R3 (10 %). The last
    release they were all served is R2: that is where `rollback --previous` ends."""
    world = cli.world
    _release(world, "v1")
    r2 = _release(world, "v2")
    run = cli.start(*cli.deploy_args("v3", "v3", "--canary", "10", "--bake", str(HELD_S)))
    wait_until(
        lambda: all(
            world.raw_lambda()
            .get_alias(FunctionName=n, Name=world.env.alias_name)
            .get("RoutingConfig", {})
            .get("AdditionalVersionWeights")
            for n in world.env.function_names
        ),
        "every alias weighted (the bake)",
        running=run,
    )
    run.kill()
    assert cli.records()[0].state == history.STARTED

    back = cli.run("rollback", "--env", ENV, "--previous")

    assert back.code == 0, back
    assert world.served() == target_of(r2)
    assert aliases(world) == {n: v for n, (v, _, _) in target_of(r2).items()}


def _as_format_1(world: World, record: ReleaseRecord) -> None:
    """Rewrite a record as the previous tool version wrote it: `before` held `$LATEST`'s
    code and layers beside the alias's version, and there was no `latest`."""
    name = artifacts.release_record(world.env.name, record.id)
    data = json.loads(world.store.read_bytes(name))
    for entry in data["functions"].values():
        latest = entry.pop("latest")
        entry["before"].update(code_sha256=latest["code_sha256"], layers=latest["layers"])
    data["format"] = 1
    world.store.put_bytes(name, json.dumps(data).encode(), overwrite=True)


def test_a_format_1_record_is_still_read_and_rolled_back_with_a_warning(dworld: World) -> None:
    _release(dworld, "v1")
    rollback(dworld.context(), PREVIOUS)
    first = dworld.served()
    r2 = _release(dworld, "v2")
    _as_format_1(dworld, r2)
    (read,) = [r for r in history.load_releases(dworld.store, dworld.env.name) if r.id == r2.id]
    assert read.legacy_before and before_of(read) != first  # what format 1 kept
    said: list[str] = []
    status(dworld.env, Api(dworld.lam), dworld.store, say=said.append)
    assert any("1 release record(s) of format 1" in line for line in said)

    result = rollback(dworld.context(), PREVIOUS)

    assert (result["state"], result["serves"]) == ("succeeded", f"before:{r2.id}")
    assert dworld.served() == first
    assert any("record format 1" in line for line in dworld.said)


def test_a_plan_that_did_not_read_the_served_version_cannot_record_latest_instead() -> None:
    latest = Latest(
        name="fn",
        arn="arn:aws:lambda:us-west-2:1:function:fn",
        code_sha256="a=",
        layers=("arn:l:2",),
        revision_id="r",
    )
    alias = Alias(name="live", version="3")

    with pytest.raises(RuntimeError, match=r"fn: the version its alias serves \(3\) was not"):
        plan.served_state(plan.Before(latest=latest, alias=alias, served=None))

    served = Version(version="3", code_sha256="b=", layers=("arn:l:1",))
    state = plan.served_state(plan.Before(latest=latest, alias=alias, served=served))
    assert (state.version, state.code_sha256, state.layers) == ("3", "b=", ("arn:l:1",))
