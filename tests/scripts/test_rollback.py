"""rollback against moto: validated targets, --previous from the records, same guards."""

from __future__ import annotations

from typing import Any

import pytest
from lambda_world import UPDATES, World, client_error, fail_calls, fast_retry

from scripts.cli import main
from scripts.errors import EXIT_BAD_INPUT, BadInputError, ToolError
from scripts.release.deploy import deploy
from scripts.release.engine import ApplyFailedError
from scripts.release.history import load_records
from scripts.release.rollback import RollbackRequest, rollback


def _deploy(world: World, layer: str, package: str) -> dict[str, Any]:
    return deploy(
        env=world.env,
        lambda_client=world.lam,
        store=world.store,
        target=world.target(layer, package),
        retry=fast_retry(),
    )


def _rollback(world: World, **request: Any) -> dict[str, Any]:
    return rollback(
        env=world.env,
        lambda_client=world.lam,
        store=world.store,
        request=RollbackRequest(**request),
        retry=fast_retry(),
    )


def test_previous_returns_to_the_state_before_the_first_deploy(world: World) -> None:
    terraform_state = world.state()
    _deploy(world, "v1", "v1")

    result = _rollback(world, previous=True)

    assert world.state() == terraform_state
    assert result["layer_version_arn"] == world.first_layer_arn
    assert all(f["updated"] for f in result["functions"].values())
    _, newest = load_records(world.store, world.env)[0]
    assert newest.kind == "rollback"
    assert newest.status == "succeeded"


def test_previous_after_two_deploys_returns_to_the_first(world: World) -> None:
    _deploy(world, "v1", "v1")
    after_first = world.state()
    _deploy(world, "v2", "v2")
    # A repeated deploy changes nothing, so it is not what --previous undoes.
    _deploy(world, "v2", "v2")

    _rollback(world, previous=True)

    assert world.state() == after_first


def test_layer_version_number_reattaches_only_the_layer(world: World) -> None:
    first = _deploy(world, "v1", "v1")
    _deploy(world, "v2", "v1")
    before = world.state()

    result = _rollback(world, layer_version=first["layer_version_arn"].rsplit(":", 1)[1])

    for name, (code, _) in world.state().items():
        assert code == before[name][0]
        assert world.state()[name][1] == (first["layer_version_arn"],)
    assert all(f["layers_updated"] and not f["code_updated"] for f in result["functions"].values())


def test_package_key_reattaches_only_the_code(world: World) -> None:
    _deploy(world, "v1", "v1")
    old_key = world.target("v1", "v1").package.key
    second = _deploy(world, "v1", "v2")

    _rollback(world, package_key=old_key)

    old_sha = world.target("v1", "v1").package.code_sha256
    assert all(
        state == (old_sha, (second["layer_version_arn"],)) for state in world.state().values()
    )


@pytest.mark.parametrize(
    ("request_args", "message"),
    [
        ({"layer_version": "arn:aws:lambda:us-west-2:123:layer:x:1"}, "not a layer version ARN"),
        ({"layer_version": "latest"}, "not a layer version ARN"),
        ({"layer_version": "0"}, "not a layer version ARN"),
        (
            {"layer_version": "arn:aws:lambda:eu-west-1:123456789012:layer:{layer}:1"},
            "is in eu-west-1",
        ),
        (
            {"layer_version": "arn:aws:lambda:us-west-2:123456789012:layer:someone-else:1"},
            "is not this environment's layer",
        ),
        ({"package_key": "lambda/backend.zip"}, "not a content-addressed package"),
        ({"package_key": "lambda/../backend-0123456789abcdef.zip"}, "not a content-addressed"),
    ],
)
def test_bad_targets_are_refused_before_any_call(
    world: World, request_args: dict[str, str], message: str
) -> None:
    before = world.state()
    world.log.clear()
    args = {k: v.format(layer=world.env.layer_name) for k, v in request_args.items()}

    with pytest.raises(BadInputError, match=message):
        _rollback(world, **args)

    assert world.log.calls == []
    assert world.state() == before


def test_foreign_account_layer_is_refused_before_any_change(world: World) -> None:
    foreign = f"arn:aws:lambda:us-west-2:999999999999:layer:{world.env.layer_name}:1"
    with pytest.raises(BadInputError, match="account 999999999999"):
        _rollback(world, layer_version=foreign)
    assert world.log.names() == []


def test_missing_version_and_missing_package_are_refused(world: World) -> None:
    with pytest.raises(BadInputError, match="has no version 42"):
        _rollback(world, layer_version="42")
    with pytest.raises(ToolError, match="not in the store"):
        _rollback(world, package_key="lambda/backend-0123456789abcdef.zip")
    assert world.log.names() == []


def test_previous_without_history_is_refused(world: World) -> None:
    with pytest.raises(BadInputError, match="no deployment"):
        _rollback(world, previous=True)


def test_request_needs_exactly_one_kind_of_target() -> None:
    with pytest.raises(BadInputError):
        RollbackRequest()
    with pytest.raises(BadInputError):
        RollbackRequest(previous=True, layer_version="3")


def test_failing_rollback_restores_every_function(world: World) -> None:
    _deploy(world, "v1", "v1")
    before = world.state()
    failing = world.env.function_names[3]
    fail_calls(
        world.lam,
        "UpdateFunctionConfiguration",
        lambda params: (
            client_error("ServiceException", "UpdateFunctionConfiguration", 500)
            if params["FunctionName"] == failing and params["Layers"] != list(before[failing][1])
            else None
        ),
    )

    with pytest.raises(ApplyFailedError):
        _rollback(world, previous=True)

    assert world.state() == before
    assert any(op in UPDATES for op, _ in world.log.names(UPDATES))


@pytest.mark.parametrize(
    "argv",
    [
        ["--layer-version", "arn:aws:lambda:eu-west-1:123456789012:layer:bluemoxon-local-deps:1"],
        ["--layer-version", "not-a-version"],
        ["--package-key", "lambda/backend.zip"],
        ["--previous", "--layer-version", "3"],
        [],
    ],
)
def test_cli_refuses_bad_targets_with_exit_2(
    argv: list[str], aws_env_vars: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["rollback", "--env", "local", *argv]) == EXIT_BAD_INPUT
    out, err = capsys.readouterr()
    assert out == ""
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1
    assert err.strip().splitlines()[-1] == errors[0]
