"""Callers that bypass the alias (issue 17, part 5): deploy says so in its output and record,
and a rollback puts `$LATEST`'s code and layers back too, so it is real for them.

The API keeps an invoke permission on the unqualified function (target "function"), as the
real estate's API Gateway does; the other functions' callers all use the alias. Behind the
Lambda double, so revisions and update windows behave as in AWS.
"""

from __future__ import annotations

from dataclasses import replace

from lambda_world import World

from environments import InvokePermission
from scripts.callers import bypassed_functions, callers_of
from scripts.release import history
from scripts.release.deploy import deploy
from scripts.release.rollback import RollbackRequest, rollback
from scripts.release.status import status

GATEWAY = InvokePermission(
    principal="apigateway.amazonaws.com",
    statement_id="AllowAPIGatewayInvoke",
    exists=True,
    target="function",
)


def _bypassing_api(world: World) -> str:
    """The API's callers invoke the unqualified function; returns its real name."""
    functions = tuple(
        replace(f, triggers=(GATEWAY,)) if f.name == "api" else f for f in world.env.functions
    )
    world.env = replace(world.env, functions=functions)
    return world.env.function_name("api")


def _latest(world: World, name: str) -> tuple[str, tuple[str, ...]]:
    config = world.raw_lambda().get_function_configuration(FunctionName=name)
    return str(config["CodeSha256"]), tuple(layer["Arn"] for layer in config.get("Layers", []))


def test_callers_of_a_function_say_which_reach_the_alias(dworld: World) -> None:
    api = _bypassing_api(dworld)
    config = dworld.env.function("api")
    (caller,) = callers_of(config)
    assert (caller.target, caller.ours) == ("function", True)
    assert caller.line() == "permission AllowAPIGatewayInvoke (apigateway.amazonaws.com) -> $LATEST"
    assert list(bypassed_functions(dworld.env)) == [api]


def test_deploy_says_which_callers_bypass_the_alias_and_records_them(dworld: World) -> None:
    api = _bypassing_api(dworld)
    result = deploy(dworld.context(), dworld.target("v1", "v1"))
    record = history.load_releases(dworld.store, dworld.env.name)[0]
    expected = {api: ["permission AllowAPIGatewayInvoke (apigateway.amazonaws.com) -> $LATEST"]}
    assert result["bypassed"] == expected and record.bypassed == expected
    assert any(
        f"{api}: 1 caller(s) invoke the unqualified function" in line for line in dworld.said
    )
    said: list[str] = []
    shown = status(dworld.env, dworld.context().api, dworld.store, say=said.append)
    assert shown["bypassed"] == expected
    assert "    bypasses the alias: " + expected[api][0] in said


def test_rollback_restores_latest_for_a_function_whose_callers_bypass_the_alias(
    dworld: World,
) -> None:
    api = _bypassing_api(dworld)
    cleanup = dworld.env.function_name("cleanup")
    deploy(dworld.context(), dworld.target("v1", "v1"))
    r1 = history.load_releases(dworld.store, dworld.env.name)[0]
    deploy(dworld.context(), dworld.target("v2", "v2"))
    r2 = history.load_releases(dworld.store, dworld.env.name)[0]
    assert _latest(dworld, api) == (
        r2.functions[api].target.code_sha256,
        r2.functions[api].target.layers,
    )

    result = rollback(dworld.context(), RollbackRequest(previous=True))

    assert (result["state"], result["serves"]) == ("succeeded", r1.id)
    # Through the alias every function serves release 1 again...
    served = dworld.served()
    for name, entry in r1.functions.items():
        assert served[name] == (entry.target.version, entry.target.code_sha256, entry.target.layers)
    # ...and the API's callers, which invoke $LATEST, get release 1's code and layers too.
    target = r1.functions[api].target
    assert _latest(dworld, api) == (target.code_sha256, target.layers)
    # A function whose callers all use the alias keeps $LATEST where release 2 left it.
    assert _latest(dworld, cleanup) == (
        r2.functions[cleanup].target.code_sha256,
        r2.functions[cleanup].target.layers,
    )
    record = history.load_releases(dworld.store, dworld.env.name)[0]
    assert record.kind == "rollback" and list(record.bypassed) == [api]
