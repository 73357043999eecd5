"""Migration phase 5 (issue 17, part 5): callers move to the alias. Ours (a trigger with
target "function") by a change to the environment file; another root's (an HTTP API
integration) by the change printed for that root, read back from AWS (moto) once made."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from environments import ENVIRONMENTS, SqsTrigger
from environments.callers import ExternalCaller
from environments.catalog import load_environment_file
from scripts.callers import bypassed_functions
from scripts.migration.callers_phase import callers
from scripts.migration.phases import State

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
