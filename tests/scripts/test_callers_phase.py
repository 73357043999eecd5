"""Migration phase 5 (issue 17, part 5): callers move to the alias. Ours (a trigger with
target "function") by a change to the environment file; another root's (an HTTP API
integration) by the change printed for that root, read back from AWS (moto) once made."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fake_terraform import fake_terraform
from lambda_world import World

from environments import ENVIRONMENTS, InvokePermission, SqsTrigger
from environments.callers import ExternalCaller
from environments.catalog import environment_text, load_environment_file
from scripts.callers import bypassed_functions
from scripts.migration.bootstrap import BuildInputs
from scripts.migration.callers_phase import callers
from scripts.migration.phases import State
from scripts.migration.runbook import migrate
from scripts.release import history

ACCOUNT = "123456789012"


def test_callers_move_to_the_alias_ours_in_the_file_theirs_read_back(
    aws_client: Callable[[str], Any], tmp_path: Path
) -> None:
    v2 = aws_client("apigatewayv2")
    base = replace(ENVIRONMENTS["local"], name_prefix=f"c{uuid.uuid4().hex[:6]}")
    api_name = base.function_name("api")
    function_arn = f"arn:aws:lambda:{base.region}:{ACCOUNT}:function:{api_name}"
    http = v2.create_api(Name="http", ProtocolType="HTTP")
    integration = v2.create_integration(
        ApiId=http["ApiId"], IntegrationType="AWS_PROXY", IntegrationUri=function_arn
    )
    caller_id = f"{http['ApiId']}/{integration['IntegrationId']}"
    queue = f"arn:aws:sqs:{base.region}:{ACCOUNT}:jobs"
    functions = tuple(
        replace(
            f,
            triggers=(SqsTrigger(queue_arn=queue, batch_size=1, target="function"),),
            external_callers=(
                ExternalCaller(
                    kind="apigatewayv2-integration",
                    id=caller_id,
                    target="function",
                    owner="api-root",
                ),
            ),
        )
        if f.name == "api"
        else f
        for f in base.functions
    )
    env = replace(base, functions=functions)
    env_file = tmp_path / "local.toml"
    clients = {s: aws_client(s) for s in ("apigateway", "apigatewayv2", "events")}

    first = callers(env, aws=clients, account=ACCOUNT, env_file=env_file, apply=False)

    alias_arn = f"{function_arn}:{env.alias_name}"
    assert first.state is State.TODO and not env_file.exists()
    assert first.details["changes"] == [
        'local.toml: functions[api] sqs trigger: target = "alias" (then synth, plan-check, apply)',
        f"{api_name}: aws_apigatewayv2_integration {caller_id} (in api-root): "
        f'integration_uri = "{alias_arn}"',
    ]

    # The API's own root applies the change it was given.
    v2.update_integration(
        ApiId=http["ApiId"], IntegrationId=integration["IntegrationId"], IntegrationUri=alias_arn
    )
    second = callers(env, aws=clients, account=ACCOUNT, env_file=env_file, apply=True)

    assert second.state is State.DONE, second.checked
    assert any("invokes the alias (read back)" in line for line in second.checked)
    written = load_environment_file(env_file)
    assert bypassed_functions(written) == {}
    api = written.function("api")
    assert [t.target for t in api.triggers] == ["alias"]
    assert [c.target for c in api.external_callers] == ["alias"]
    # Everything else in the file is what it was.
    assert replace(written, functions=env.functions) == env


def test_a_grant_is_copied_to_the_alias_and_the_file_keeps_its_own_settings(
    aws_client: Callable[[str], Any], tmp_path: Path
) -> None:
    """The API Gateway grant on the unqualified function must outlive the move: the API's
    integration (another root's) still invokes the function until it is changed there.
    And the file is rewritten from itself: this run's --backend-dir is not configuration."""
    gateway = InvokePermission(
        principal="apigateway.amazonaws.com",
        statement_id="AllowAPIGatewayInvoke",
        source_arn="arn:aws:execute-api:us-west-2:123456789012:abc/*/*",
        exists=True,
        target="function",
    )
    base = replace(ENVIRONMENTS["local"], name="rehearsal")
    functions = tuple(
        replace(f, triggers=(gateway,)) if f.name == "api" else f for f in base.functions
    )
    on_disk = replace(base, functions=functions)
    env_file = tmp_path / "rehearsal.toml"
    env_file.write_text(environment_text(on_disk))
    # What the command holds: the file with --backend-dir applied.
    running = replace(on_disk, backend_dir=tmp_path / "elsewhere")
    clients = {s: aws_client(s) for s in ("apigateway", "apigatewayv2", "events")}

    moved = callers(running, aws=clients, account=ACCOUNT, env_file=env_file, apply=True)

    assert moved.details["env_file_written"] is True
    written = load_environment_file(env_file)
    assert written.backend_dir == on_disk.backend_dir
    kept, copy = written.function("api").triggers
    assert kept == gateway  # still imported as it is: replacing it would cut the API off
    assert isinstance(copy, InvokePermission)
    assert (copy.target, copy.exists, copy.principal, copy.source_arn) == (
        "alias",
        False,
        gateway.principal,
        gateway.source_arn,
    )
    # The grant left on the function calls nothing: no caller of the API bypasses the alias.
    assert bypassed_functions(written) == {}
    again = callers(written, aws=clients, account=ACCOUNT, env_file=env_file, apply=True)
    assert again.state is State.DONE and "env_file_written" not in again.details


def test_migrate_apply_releases_nothing_while_the_file_it_wrote_is_not_applied(
    world: World,
    aws_client: Callable[[str], Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Phase 1 is done (the stack plans no change), the callers phase rewrites the file:
    the stack in stack_dir no longer says what runs, so the first release must wait."""
    queue = f"arn:aws:sqs:{world.env.region}:{ACCOUNT}:jobs"
    functions = tuple(
        replace(f, triggers=(SqsTrigger(queue_arn=queue, batch_size=1, target="function"),))
        if f.name == "api"
        else f
        for f in world.env.functions
    )
    world.env = replace(world.env, functions=functions)
    env_file = tmp_path / f"{world.env.name}.toml"
    env_file.write_text(environment_text(world.env))
    stack_dir = tmp_path / "stack"
    stack_dir.mkdir()
    (stack_dir / "cdk.tf.json").write_text("{}")
    (tmp_path / "empty-plan.json").write_text('{"format_version": "1.2"}')
    binary = fake_terraform(tmp_path / "bin", version="1.11.4", show=tmp_path / "empty-plan.json")
    monkeypatch.setenv("PATH", str(binary))

    report = migrate(
        world.context(),
        iam=aws_client("iam"),
        stack_dir=stack_dir,
        inputs=BuildInputs(build_dir=tmp_path / "build"),
        environ={"PATH": str(binary)},
        apply=True,
        aws={s: aws_client(s) for s in ("apigateway", "apigatewayv2", "events")},
        env_file=env_file,
    )

    states = {p["phase"]: p for p in report["phases"]}
    assert states[1]["state"] == "done" and states[5]["env_file_written"] is True
    assert states[2]["state"] == "todo" and "phase 5" in states[2]["next"]
    assert history.load_releases(world.store, world.env.name) == []
    assert load_environment_file(env_file).function("api").triggers[0].target == "alias"
