"""Faults moto never produces, injected with botocore event hooks on a real moto server.

Each test asserts the promise of the module: a failure leaves every function as it was
(or, for a refused guard, untouched), and the exit is 1 with one line per function.
"""

from __future__ import annotations

from typing import Any

import pytest
from lambda_world import UPDATES, World, client_error, fail_calls, fast_retry, times

from scripts.cli import main
from scripts.errors import EXIT_FAILURE, ChecksumMismatchError
from scripts.release.deploy import deploy
from scripts.release.engine import ApplyFailedError, Status
from scripts.release.history import load_records


def test_conflict_on_configuration_update_is_retried_then_succeeds(world: World) -> None:
    target = world.target("v1", "v1")
    name = world.env.function_names[1]
    conflicts = times(2)
    attempts: list[str] = []

    def conflict(params: dict[str, Any]) -> Any:
        if params["FunctionName"] != name:
            return None
        attempts.append(name)
        if next(conflicts):
            return client_error(
                "ResourceConflictException",
                "UpdateFunctionConfiguration",
                409,
                "The operation cannot be performed at this time. An update is in progress",
            )
        return None

    fail_calls(world.lam, "UpdateFunctionConfiguration", conflict)
    sleeps: list[float] = []

    result = deploy(
        env=world.env,
        lambda_client=world.lam,
        store=world.store,
        target=target,
        retry=fast_retry(sleeps),
    )

    assert len(attempts) == 3
    assert sleeps == [0.5, 1.0]
    assert result["functions"][name]["layers_updated"] is True
    assert world.state()[name] == (target.package.code_sha256, (result["layer_version_arn"],))


def test_conflicts_that_never_clear_restore_everything(world: World) -> None:
    target = world.target("v1", "v1")
    before = world.state()
    fail_calls(
        world.lam,
        "UpdateFunctionConfiguration",
        lambda params: client_error("ResourceConflictException", "UpdateFunctionConfiguration"),
    )

    with pytest.raises(ApplyFailedError, match="update in progress"):
        deploy(
            env=world.env,
            lambda_client=world.lam,
            store=world.store,
            target=target,
            retry=fast_retry(),
        )

    assert world.state() == before


def test_failed_last_update_status_restores_all_functions(world: World) -> None:
    target = world.target("v1", "v1")
    before = world.state()
    failing = world.env.function_names[-1]
    once = times(1)

    def report_failed(parsed: dict[str, Any], **_: Any) -> None:
        config = parsed.get("Configuration", {})
        if config.get("FunctionName") == failing and next(once):
            config["LastUpdateStatus"] = "Failed"
            config["LastUpdateStatusReason"] = "injected: the code could not be unpacked"

    world.lam.meta.events.register("after-call.lambda.GetFunction", report_failed)

    # One worker: the three other functions are fully updated before the last one fails.
    with pytest.raises(ApplyFailedError) as caught:
        deploy(
            env=world.env,
            lambda_client=world.lam,
            store=world.store,
            target=target,
            retry=fast_retry(),
            max_workers=1,
        )

    assert world.state() == before
    outcomes = caught.value.outcomes
    assert {o.status for o in outcomes.values()} == {Status.RESTORED}
    assert "LastUpdateStatus Failed" in (outcomes[failing].error or "")
    lines = str(caught.value).splitlines()
    assert len(lines) == 1 + len(world.env.function_names)
    # Restores went back to the content-addressed package of the code they ran before.
    restore_keys = {
        p["S3Key"]
        for op, p in world.log.calls
        if op == "UpdateFunctionCode" and p["S3Key"] != target.package.key
    }
    assert len(restore_keys) == 1
    assert restore_keys.pop().startswith("lambda/backend-")
    # The failure is recorded too: history keeps what happened.
    _, record = load_records(world.store, world.env)[0]
    assert record.status == "failed"


def test_failed_update_in_parallel_still_restores_every_function(world: World) -> None:
    target = world.target("v1", "v1")
    before = world.state()
    failing = world.env.function_names[0]
    once = times(1)

    def report_failed(parsed: dict[str, Any], **_: Any) -> None:
        config = parsed.get("Configuration", {})
        if config.get("FunctionName") == failing and next(once):
            config["LastUpdateStatus"] = "Failed"

    world.lam.meta.events.register("after-call.lambda.GetFunction", report_failed)

    with pytest.raises(ApplyFailedError):
        deploy(
            env=world.env,
            lambda_client=world.lam,
            store=world.store,
            target=target,
            retry=fast_retry(),
        )

    assert world.state() == before


def test_layer_attach_failing_after_code_update_restores_code_and_layers(world: World) -> None:
    target = world.target("v1", "v1")
    before = world.state()
    failing = world.env.function_names[2]
    once = times(1)
    fail_calls(
        world.lam,
        "UpdateFunctionConfiguration",
        lambda params: (
            client_error("InvalidParameterValueException", "UpdateFunctionConfiguration")
            if params["FunctionName"] == failing and next(once)
            else None
        ),
    )

    with pytest.raises(ApplyFailedError) as caught:
        deploy(
            env=world.env,
            lambda_client=world.lam,
            store=world.store,
            target=target,
            retry=fast_retry(),
        )

    assert world.state() == before
    assert caught.value.outcomes[failing].status is Status.RESTORED
    code_updates = [p for op, p in world.log.calls if op == "UpdateFunctionCode"]
    # The failing function's code had been updated, then was put back.
    assert next(p["S3Key"] for p in code_updates if p["FunctionName"] == failing) == (
        target.package.key
    )


class RevisionGuard:
    """Lambda's RevisionId semantics, which moto lacks: reads report it, a stale one is
    refused with PreconditionFailedException, every accepted update changes it."""

    def __init__(self, world: World) -> None:
        self.revisions: dict[str, int] = {}
        self.race: str | None = None
        events = world.lam.meta.events
        events.register("after-call.lambda.GetFunctionConfiguration", self.report)
        for op in UPDATES:
            events.register(f"before-parameter-build.lambda.{op}", self.check)
            events.register(f"after-call.lambda.{op}", self.bump)
        self.world = world

    def report(self, parsed: dict[str, Any], **_: Any) -> None:
        if "FunctionName" in parsed:
            parsed["RevisionId"] = f"rev-{self.revisions.get(parsed['FunctionName'], 0)}"

    def check(self, params: dict[str, Any], **_: Any) -> None:
        name = params["FunctionName"]
        if self.race == name:
            # Another deployment gets in first: a real change, by another client.
            self.race = None
            self.world.raw_lambda().update_function_configuration(
                FunctionName=name, Description="changed by a racing deployment"
            )
            self.revisions[name] = self.revisions.get(name, 0) + 1
        expected = f"rev-{self.revisions.get(name, 0)}"
        if params.get("RevisionId") != expected:
            raise client_error(
                "PreconditionFailedException",
                "UpdateFunctionCode",
                412,
                "The Revision Id provided does not match the latest Revision Id.",
            )

    def bump(self, parsed: dict[str, Any], **_: Any) -> None:
        name = parsed.get("FunctionName")
        if name:
            self.revisions[name] = self.revisions.get(name, 0) + 1


def test_revision_ids_guard_every_update(world: World) -> None:
    RevisionGuard(world)
    target = world.target("v1", "v1")

    deploy(
        env=world.env,
        lambda_client=world.lam,
        store=world.store,
        target=target,
        retry=fast_retry(),
    )

    updates = [p for op, p in world.log.calls if op in UPDATES]
    assert len(updates) == 8
    assert all(p.get("RevisionId", "").startswith("rev-") for p in updates)


def test_stale_revision_id_exits_1_and_leaves_that_function_untouched(
    world: World, aws_env_vars: str, capsys: pytest.CaptureFixture[str]
) -> None:
    guard = RevisionGuard(world)
    raced = world.env.function_names[1]
    guard.race = raced
    target = world.target("v1", "v1")
    before = world.state()

    with pytest.raises(ApplyFailedError) as caught:
        deploy(
            env=world.env,
            lambda_client=world.lam,
            store=world.store,
            target=target,
            retry=fast_retry(),
        )

    assert caught.value.exit_code == EXIT_FAILURE
    assert caught.value.outcomes[raced].status is Status.UNTOUCHED
    assert "RevisionId" in (caught.value.outcomes[raced].error or "")
    assert world.state() == before
    raw = world.raw_lambda().get_function_configuration(FunctionName=raced)
    # The racing deployment's change survives: we neither applied ours nor "restored" it away.
    assert raw["Description"] == "changed by a racing deployment"
    assert [op for op, p in world.log.calls if op in UPDATES and p["FunctionName"] == raced] == [
        "UpdateFunctionCode"
    ]


def test_code_sha256_mismatch_after_publish_aborts_before_any_function_changes(
    world: World,
) -> None:
    target = world.target("v1", "v1")
    before = world.state()

    def corrupt(parsed: dict[str, Any], **_: Any) -> None:
        parsed["Content"]["CodeSha256"] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

    world.lam.meta.events.register("after-call.lambda.PublishLayerVersion", corrupt)

    with pytest.raises(ChecksumMismatchError, match="no function was changed"):
        deploy(
            env=world.env,
            lambda_client=world.lam,
            store=world.store,
            target=target,
            retry=fast_retry(),
        )

    assert world.state() == before
    assert world.log.names(UPDATES) == []
    # The bad version is gone again, so no later deploy can take it for "newest".
    versions = world.raw_lambda().list_layer_versions(LayerName=world.env.layer_name)
    assert [v["Version"] for v in versions["LayerVersions"]] == [1]


def test_cli_failure_prints_one_line_per_function_and_exits_1(
    world: World, aws_env_vars: str, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    target = world.target("v1", "v1")
    monkeypatch.setattr("scripts.args.get_environment", lambda name: world.env)
    monkeypatch.setattr(
        "scripts.commands.deploy.current_hashes",
        lambda env: (target.layer_hash, target.package.key.split("backend-")[1][:16]),
    )
    monkeypatch.setattr("scripts.release.deploy.Retry", fast_retry)
    monkeypatch.setattr("scripts.args.lambda_client", lambda env: world.lam)
    fail_calls(
        world.lam,
        "UpdateFunctionConfiguration",
        lambda params: client_error("ServiceException", "UpdateFunctionConfiguration", 500),
    )

    code = main(["deploy", "--env", world.env.name, "--json"])

    out, err = capsys.readouterr()
    assert code == EXIT_FAILURE
    assert out == ""
    summary, *lines = err.split("error: ", 1)[1].splitlines()
    assert "ServiceException" in summary
    assert sorted(line.split(":")[0].strip() for line in lines) == sorted(world.env.function_names)
    assert all("restored" in line for line in lines)
