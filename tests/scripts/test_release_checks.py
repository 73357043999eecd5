"""Releases proven by running them, through the Lambda double with code that really runs:
hooks on the new versions before any alias moves, smoke checks through the aliases after,
and what every caller is served when one fails. Needs python3.12 on the host.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import boto3
import pytest
from botocore.config import Config
from conftest import ONE_ATTEMPT
from lambda_double import LambdaDouble
from lambda_world import World, make_world
from running_code import running_world, upload_running_package

from environments import Hook, SmokeCheck
from scripts.release import history
from scripts.release.canary import Canary
from scripts.release.context import Context
from scripts.release.deploy import DeployTarget, deploy, target_from_store
from scripts.release.release import ReleaseFailedError
from scripts.release.sources import Sources

VERSION_CHECK = {"version": True}


@pytest.fixture
def rworld(lambda_double: LambdaDouble, python312: str) -> World:
    return running_world(make_world(lambda_double.endpoint, lambda_config=ONE_ATTEMPT))


def configure(
    world: World,
    *,
    hooks: tuple[Hook, ...] = (),
    smoke: Mapping[str, Mapping[str, Any]] | None = None,
) -> None:
    """Hooks on the environment, `smoke[short name] = expect` (event {"version": true})."""
    smoke = smoke or {}
    functions = tuple(
        replace(f, smoke=SmokeCheck(event=VERSION_CHECK, expect=smoke[f.name]))
        if f.name in smoke
        else f
        for f in world.env.functions
    )
    world.env = replace(world.env, functions=functions, hooks=hooks)


def context(world: World) -> Context:
    ctx = world.context()
    # What release_args gives a command: one attempt, a read timeout past the handler's.
    ctx.invoker = boto3.client(
        "lambda",
        region_name=world.env.region,
        endpoint_url=world.endpoint,
        config=Config(read_timeout=60, retries={"total_max_attempts": 1}),
    )
    return ctx


def target(world: World, layer: str, package: str, *, needs: str) -> DeployTarget:
    return target_from_store(
        Sources(world.store),
        world.env,
        layer_hash=world.upload_layer(layer),
        package_hash=upload_running_package(world, package, needs=needs),
    )


def assert_serves_the_release_before(world: World, before: Mapping[str, Any]) -> None:
    """Every alias on version 1 (v0 code, first layer), and $LATEST back on the same."""
    raw = world.raw_lambda()
    for name in world.env.function_names:
        alias = raw.get_alias(FunctionName=name, Name=world.env.alias_name)
        assert alias["FunctionVersion"] == "1", name
        assert not alias.get("RoutingConfig", {}).get("AdditionalVersionWeights"), name
    assert world.served() == before
    assert world.state() == {
        name: (code, layers) for name, (_, code, layers) in before.items()
    }  # $LATEST


def test_hooks_run_on_the_new_versions_and_smoke_checks_through_the_alias(
    rworld: World, lambda_double: LambdaDouble
) -> None:
    migration = Hook(function="db-sync", event={"migrate": True}, expect={"migrated": "v1"})
    configure(
        rworld,
        hooks=(migration,),
        smoke={"api": {"version": "v1", "dep": "v1"}, "cleanup": {"version": "v1"}},
    )
    release = target(rworld, "v1", "v1", needs="dep_v1")

    result = deploy(context(rworld), release)

    assert result["state"] == "succeeded"
    results = result["checks"]["results"]
    assert [(r["kind"], r["function"], r["passed"]) for r in results] == [
        ("hook 0", "db-sync", True),
        ("smoke", "api", True),
        ("smoke", "cleanup", True),
    ]
    assert results[0]["qualifier"] == "2"  # the new version, before the alias moved
    assert results[0]["answer"] == '{"migrated": "v1"}'
    assert {r["qualifier"] for r in results[1:]} == {rworld.env.alias_name}
    record = history.load_releases(rworld.store, rworld.env.name)[0]
    assert record.checks is not None and record.checks["smoke"] == "on"
    assert record.checks["results"] == results
    runs = lambda_double.runner.invocations
    assert (rworld.env.function_name("db-sync"), "2") in runs


def test_a_failing_hook_switches_nothing_and_the_record_quotes_its_answer(
    rworld: World, lambda_double: LambdaDouble
) -> None:
    configure(
        rworld,
        hooks=(Hook(function="db-sync", event={"migrate": True}, expect={"migrated": "v9"}),),
        smoke={"api": {"version": "v1"}},
    )
    before = rworld.served()
    lambda_double.clear_calls()

    with pytest.raises(ReleaseFailedError) as caught:
        deploy(context(rworld), target(rworld, "v1", "v1", needs="dep_v1"))

    assert "hook 0 db-sync (2) failed" in caught.value.headline
    assert '{"migrated": "v1"}' in caught.value.headline  # what it answered
    assert "nothing was switched" in caught.value.headline
    assert lambda_double.calls_to("UpdateAlias") == []  # no alias ever moved
    assert_serves_the_release_before(rworld, before)
    record = history.load_releases(rworld.store, rworld.env.name)[0]
    assert record.state == history.FAILED
    assert record.error is not None and "hook 0 db-sync" in record.error
    assert record.checks is not None
    [hook] = record.checks["results"]
    assert hook["passed"] is False and hook["answer"] == '{"migrated": "v1"}'
    # The smoke check never ran: the release stopped at the hook.
    assert all(r["kind"] != "smoke" for r in record.checks["results"])


def test_a_hook_whose_function_raises_fails_even_with_no_expectation(rworld: World) -> None:
    configure(rworld, hooks=(Hook(function="cleanup", event={"fail": True}),))
    before = rworld.served()

    with pytest.raises(ReleaseFailedError) as caught:
        deploy(context(rworld), target(rworld, "v1", "v1", needs="dep_v1"))

    assert "function error (Unhandled, RuntimeError)" in caught.value.headline
    assert "asked to fail" in caught.value.headline
    assert_serves_the_release_before(rworld, before)


def test_a_layer_missing_a_module_fails_its_smoke_check_and_every_alias_goes_back(
    rworld: World, lambda_double: LambdaDouble
) -> None:
    # Layer v1 provides dep_v1 only; the package still imports dep_v0.
    configure(rworld, smoke={"api": {"version": "v1"}})
    before = rworld.served()

    with pytest.raises(ReleaseFailedError) as caught:
        deploy(context(rworld), target(rworld, "v1", "v1", needs="dep_v0"))

    headline = caught.value.headline
    assert "smoke api (live) failed: function error (Unhandled, Runtime.ImportModuleError)" in (
        headline
    )
    assert "No module named 'dep_v0'" in headline
    assert "switching every alias back" in headline
    assert lambda_double.calls_to("UpdateAlias")  # the switch happened, then was undone
    assert_serves_the_release_before(rworld, before)
    record = history.load_releases(rworld.store, rworld.env.name)[0]
    assert record.state == history.FAILED
    assert all(e.outcome and e.outcome["status"] == "restored" for e in record.functions.values())
    # What callers get now really runs: the old version answers through the alias.
    answer = rworld.raw_lambda().invoke(
        FunctionName=rworld.env.function_names[0],
        Qualifier=rworld.env.alias_name,
        Payload=b'{"version": true}',
    )
    assert "FunctionError" not in answer
    assert b'"version": "v0"' in answer["Payload"].read()


def test_no_smoke_skips_the_checks_and_the_record_says_so(rworld: World) -> None:
    configure(rworld, smoke={"api": {"version": "v1"}})

    result = deploy(context(rworld), target(rworld, "v1", "v1", needs="dep_v0"), smoke=False)

    assert result["state"] == "succeeded"  # the broken release went out: nobody checked
    record = history.load_releases(rworld.store, rworld.env.name)[0]
    assert record.checks == {"smoke": "skipped (--no-smoke)", "hooks": 0, "results": []}


def test_a_canary_smoke_checks_the_new_version_before_any_traffic_moves(
    rworld: World, lambda_double: LambdaDouble
) -> None:
    configure(rworld, smoke={"api": {"version": "v1"}})
    before = rworld.served()
    lambda_double.clear_calls()
    canary = Canary(percent=50, bake_s=0.2)

    with pytest.raises(ReleaseFailedError) as caught:
        deploy(context(rworld), target(rworld, "v1", "v1", needs="dep_v0"), canary=canary)

    assert "smoke api (2) failed" in caught.value.headline
    assert lambda_double.calls_to("UpdateAlias") == []  # no traffic ever went to it
    assert_serves_the_release_before(rworld, before)


def test_a_good_canary_is_smoke_checked_on_the_version_then_through_the_alias(
    rworld: World, lambda_double: LambdaDouble
) -> None:
    configure(rworld, smoke={"api": {"version": "v1", "dep": "v1"}})
    canary = Canary(percent=50, bake_s=0.2)

    result = deploy(context(rworld), target(rworld, "v1", "v1", needs="dep_v1"), canary=canary)

    assert result["state"] == "succeeded"
    qualifiers = [r["qualifier"] for r in result["checks"]["results"]]
    assert qualifiers == ["2", rworld.env.alias_name]
    api = rworld.env.function_names[0]
    assert rworld.served()[api][0] == "2"


# --- bad input: exit 2 naming the environment and the key, before anything changes ---------


@pytest.mark.parametrize(
    ("hook", "message"),
    [
        (Hook(function="nope"), "local.hooks[0].function: got 'nope'; allowed: api, cleanup"),
        (Hook(function="api", event="{not json"), "local.hooks[0].event: not valid JSON"),  # type: ignore[arg-type]
        (Hook(function="api", event="[1, 2]"), "local.hooks[0].event: got list"),  # type: ignore[arg-type]
        (Hook(function="api", expect="3"), "local.hooks[0].expect: got int"),  # type: ignore[arg-type]
    ],
)
def test_a_bad_hook_names_the_environment_and_key(hook: Hook, message: str) -> None:
    from environments import ENVIRONMENTS

    with pytest.raises(ValueError, match="^" + message.replace("[", r"\[").replace("(", r"\(")):
        replace(ENVIRONMENTS["local"], hooks=(hook,))


def test_a_bad_smoke_check_names_the_function_and_key() -> None:
    from environments import ENVIRONMENTS

    api = ENVIRONMENTS["local"].functions[0]
    with pytest.raises(ValueError, match=r"^functions\[api\]\.smoke\.expect: got list"):
        replace(api, smoke=SmokeCheck(expect=["v1"]))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^functions\[api\]\.smoke\.event: not valid JSON"):
        replace(api, smoke=SmokeCheck(event="{'single': 'quotes'}"))  # type: ignore[arg-type]


def test_deploy_with_a_bad_hook_exits_2_before_any_call(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The environment is built from its file when the command starts: the bad key is
    reported there, before the lock, the store or Lambda are touched."""
    from environments import ENVIRONMENTS
    from scripts import args as common
    from scripts.cli import main

    def bad(name: str) -> Any:
        return replace(ENVIRONMENTS[name], hooks=(Hook(function="api", event="{oops"),))  # type: ignore[arg-type]

    monkeypatch.setattr(common, "get_environment", bad)

    code = main(["deploy", "--env", "local", "--store", "s3://nowhere/x/"])

    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [err[0]] and err[0].startswith("error: local.hooks[0].event: not valid JSON")
