"""`discover` against a small estate on moto shaped like the inventory
(/work/shared/design/real-estate.md): an API behind an HTTP API integration and an
unqualified permission, a worker reporting partial batch failures, a cleanup on a schedule
whose target carries an input, a function with its own package, an image function.

The written file is loaded back into the model and every setting compared with what was
built; an estate with something the configuration cannot say exits 2 and writes nothing.
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from environments import CreatedRole, ExistingRole, InvokePermission, ScheduleTrigger, SqsTrigger
from environments.catalog import load_environment_file
from scripts.cli import main

ACCOUNT = "123456789012"
REGION = "us-west-2"
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
READ_QUEUE = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "sqs:ReceiveMessage", "Resource": "*"}],
}
FILTER = '{"body":{"kind":["analysis"]}}'


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app/main.py", "def handler(event, context):\n    return 1\n")
    return buffer.getvalue()


@dataclass
class Estate:
    prefix: str
    name_prefix: str
    api_arn: str
    api_id: str
    integration_id: str
    queue_arn: str
    mapping_uuid: str
    layer_arn: str
    rule: str
    rest_caller: str


def build_estate(client: Callable[[str], Any]) -> Estate:
    """The estate, named under a fresh prefix so the session's moto holds it apart."""
    name_prefix = f"bm{uuid.uuid4().hex[:6]}"
    prefix = f"{name_prefix}-staging-"
    lam, iam, sqs, events, logs = (client(s) for s in ("lambda", "iam", "sqs", "events", "logs"))
    shared = iam.create_role(RoleName=f"{prefix}shared", AssumeRolePolicyDocument=TRUST)
    worker_role = iam.create_role(RoleName=f"{prefix}worker-role", AssumeRolePolicyDocument=TRUST)
    for name in ("queue", "bedrock"):
        iam.put_role_policy(
            RoleName=f"{prefix}worker-role",
            PolicyName=f"{prefix}{name}",
            PolicyDocument=json.dumps(READ_QUEUE),
        )
    managed = iam.create_policy(PolicyName=f"{prefix}basic", PolicyDocument=json.dumps(READ_QUEUE))
    iam.attach_role_policy(RoleName=f"{prefix}worker-role", PolicyArn=managed["Policy"]["Arn"])
    layer = lam.publish_layer_version(
        LayerName=f"{name_prefix}-staging-deps", Content={"ZipFile": _zip()}
    )["LayerVersionArn"]
    common = {"Runtime": "python3.12", "Code": {"ZipFile": _zip()}, "Tags": {"Project": "bm"}}

    def function(short: str, role: str, **extra: Any) -> str:
        made = lam.create_function(
            FunctionName=f"{prefix}{short}", Role=role, **{**common, **extra}
        )
        logs.create_log_group(logGroupName=f"/aws/lambda/{prefix}{short}")
        days = 30 if short == "cleanup" else 14
        logs.put_retention_policy(logGroupName=f"/aws/lambda/{prefix}{short}", retentionInDays=days)
        return str(made["FunctionArn"])

    api_arn = function(
        "api",
        shared["Role"]["Arn"],
        Handler="app.main.handler",
        MemorySize=512,
        Timeout=600,
        Layers=[layer],
        Environment={"Variables": {"ENVIRONMENT": "staging", "DATABASE_URL": "x"}},
        TracingConfig={"Mode": "Active"},
        Publish=True,
    )
    lam.create_alias(FunctionName=f"{prefix}api", Name="staging", FunctionVersion="1")
    http = client("apigatewayv2").create_api(Name=f"{prefix}http", ProtocolType="HTTP")
    integration = client("apigatewayv2").create_integration(
        ApiId=http["ApiId"],
        IntegrationType="AWS_PROXY",
        IntegrationUri=api_arn,
        PayloadFormatVersion="2.0",
    )
    lam.add_permission(
        FunctionName=f"{prefix}api",
        StatementId="AllowAPIGatewayInvoke",
        Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com",
        SourceArn=f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{http['ApiId']}/*/*",
    )
    worker_arn = function(
        "analysis-worker",
        worker_role["Role"]["Arn"],
        Handler="app.worker.handler",
        MemorySize=256,
        Timeout=600,
        Layers=[layer],
    )
    lam.put_function_concurrency(
        FunctionName=f"{prefix}analysis-worker", ReservedConcurrentExecutions=5
    )
    queue = sqs.create_queue(QueueName=f"{prefix}jobs")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    mapping = lam.create_event_source_mapping(
        EventSourceArn=queue_arn,
        # By ARN, as Terraform's `function_name = aws_lambda_function.x.arn` makes it.
        FunctionName=worker_arn,
        BatchSize=1,
        FunctionResponseTypes=["ReportBatchItemFailures"],
        MaximumBatchingWindowInSeconds=5,
        ScalingConfig={"MaximumConcurrency": 3},
        FilterCriteria={"Filters": [{"Pattern": FILTER}]},
    )
    cleanup_arn = function(
        "cleanup",
        shared["Role"]["Arn"],
        Handler="lambdas.cleanup.handler.handler",
        MemorySize=256,
        Timeout=300,
        Layers=[layer],
    )
    # A REST API (v1) calling cleanup through the unqualified function's invocation URI.
    rest = client("apigateway").create_rest_api(name=f"{prefix}rest")
    root = client("apigateway").get_resources(restApiId=rest["id"])["items"][0]
    client("apigateway").put_method(
        restApiId=rest["id"], resourceId=root["id"], httpMethod="POST", authorizationType="NONE"
    )
    client("apigateway").put_integration(
        restApiId=rest["id"],
        resourceId=root["id"],
        httpMethod="POST",
        type="AWS_PROXY",
        integrationHttpMethod="POST",
        uri=f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{cleanup_arn}/invocations",
    )
    rest_caller = f"{rest['id']}/{root['id']}/POST"
    # The API's code invokes cleanup by name: its role may call the unqualified function.
    invoke = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": cleanup_arn}
        ],
    }
    iam.put_role_policy(
        RoleName=f"{prefix}shared", PolicyName="invoke-cleanup", PolicyDocument=json.dumps(invoke)
    )
    rule = f"{prefix}cleanup-nightly"
    events.put_rule(Name=rule, ScheduleExpression="rate(1 day)", Description="Nightly")
    events.put_targets(
        Rule=rule, Targets=[{"Id": "cleanup", "Arn": cleanup_arn, "Input": '{"mode":"full"}'}]
    )
    lam.add_permission(
        FunctionName=f"{prefix}cleanup",
        StatementId="AllowExecutionFromEventBridge",
        Action="lambda:InvokeFunction",
        Principal="events.amazonaws.com",
        SourceArn=f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{rule}",
    )
    function(
        "db-sync",
        shared["Role"]["Arn"],
        Handler="handler.handler",
        MemorySize=512,
        Timeout=900,
        EphemeralStorage={"Size": 1024},
    )
    lam.create_function_url_config(FunctionName=f"{prefix}db-sync", AuthType="AWS_IAM")
    lam.create_function(
        FunctionName=f"{prefix}scraper",
        Role=shared["Role"]["Arn"],
        PackageType="Image",
        Code={"ImageUri": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/scraper:1"},
        MemorySize=2048,
    )
    return Estate(
        prefix=prefix,
        name_prefix=name_prefix,
        api_arn=api_arn,
        api_id=http["ApiId"],
        integration_id=integration["IntegrationId"],
        queue_arn=queue_arn,
        mapping_uuid=mapping["UUID"],
        layer_arn=layer,
        rule=rule,
        rest_caller=rest_caller,
    )


def _discover(tmp_path: Path, prefix: str, *extra: str) -> tuple[int, Path]:
    out = tmp_path / "staging.toml"
    code = main(
        [
            "discover",
            "--env",
            "staging",
            "--prefix",
            prefix,
            "--out",
            str(out),
            "--state",
            "local",
            *extra,
        ]
    )
    return code, out


def test_discover_writes_the_estate_as_it_runs(
    aws_env_vars: str,
    aws_client: Callable[[str], Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    estate = build_estate(aws_client)
    code, out = _discover(tmp_path, estate.prefix, "--json")
    printed = capsys.readouterr()
    assert code == 0, printed.err
    env = load_environment_file(out)
    assert env.name == "staging" and env.name_prefix == estate.name_prefix
    assert env.adopt and env.alias_name == "staging" and env.state_backend is None
    assert env.tags == {"Project": "bm"} and env.log_retention_days == 14
    assert [u.name for u in env.unmanaged_functions] == [f"{estate.prefix}scraper"]

    api = env.function("api")
    assert (api.handler, api.memory_mb, api.timeout_s, api.tracing) == (
        "app.main.handler",
        512,
        600,
        "Active",
    )
    assert api.environment == {"ENVIRONMENT": "staging", "DATABASE_URL": "x"}
    assert api.package == "shared" and api.extra_layers == ()
    assert isinstance(api.role, ExistingRole) and api.role.name == f"{estate.prefix}shared"
    assert api.adopt is not None and api.adopt.alias and not api.adopt.role
    (permission,) = api.triggers
    assert isinstance(permission, InvokePermission)
    assert (permission.statement_id, permission.target, permission.exists) == (
        "AllowAPIGatewayInvoke",
        "function",
        True,
    )
    (caller,) = api.external_callers
    assert (caller.kind, caller.id, caller.target) == (
        "apigatewayv2-integration",
        f"{estate.api_id}/{estate.integration_id}",
        "function",
    )

    worker = env.function("analysis-worker")
    assert worker.reserved_concurrency == 5
    (sqs,) = worker.triggers
    assert isinstance(sqs, SqsTrigger)
    assert sqs.function_response_types == ("ReportBatchItemFailures",)
    assert (sqs.queue_arn, sqs.existing_uuid, sqs.batch_size) == (
        estate.queue_arn,
        estate.mapping_uuid,
        1,
    )
    assert (sqs.batching_window_s, sqs.maximum_concurrency, sqs.enabled) == (5, 3, True)
    assert sqs.filter_patterns == (FILTER,) and sqs.target == "function"
    role = worker.role
    assert isinstance(role, CreatedRole) and role.name == f"{estate.prefix}worker-role"
    assert sorted(p.name for p in role.inline_policies) == [
        f"{estate.prefix}bedrock",
        f"{estate.prefix}queue",
    ]
    assert json.loads(role.inline_policies[0].document) == READ_QUEUE
    assert role.managed_policy_arns == (f"arn:aws:iam::{ACCOUNT}:policy/{estate.prefix}basic",)

    cleanup = env.function("cleanup")
    assert cleanup.log_retention_days == 30
    schedule = next(t for t in cleanup.triggers if isinstance(t, ScheduleTrigger))
    assert (schedule.rule_name, schedule.expression, schedule.input) == (
        estate.rule,
        "rate(1 day)",
        '{"mode":"full"}',
    )
    assert (schedule.target_id, schedule.target, schedule.exists) == ("cleanup", "function", True)

    rest, invoker = cleanup.external_callers
    assert (rest.kind, rest.id, rest.target) == (
        "apigateway-integration",
        estate.rest_caller,
        "function",
    )
    assert (invoker.kind, invoker.id, invoker.target) == (
        "lambda-invoke",
        f"arn:aws:iam::{ACCOUNT}:role/{estate.prefix}shared",
        "function",
    )

    db_sync = env.function("db-sync")
    assert db_sync.package == "own" and db_sync.ephemeral_storage_mb == 1024
    (url,) = db_sync.external_callers
    assert (url.kind, url.target) == ("function-url", "function")
    assert url.id.startswith("https://") and url.id.endswith(".on.aws")

    result = json.loads(printed.out)
    assert result["written"] == str(out)
    # moto has no provisioned concurrency API: said, not silently taken as none.
    assert any("ListProvisionedConcurrencyConfigs" in note for note in result["notes"])
    assert result["bypass"][f"{estate.prefix}api"] == [
        "permission AllowAPIGatewayInvoke (apigateway.amazonaws.com) -> $LATEST",
        f"apigatewayv2-integration {estate.api_id}/{estate.integration_id} -> $LATEST",
    ]
    assert "bypass the alias" in printed.err


def test_without_state_local_the_file_names_a_backend_to_fill_in(
    aws_env_vars: str, aws_client: Callable[[str], Any], tmp_path: Path
) -> None:
    estate = build_estate(aws_client)
    out = tmp_path / "staging.toml"
    assert main(["discover", "--env", "staging", "--prefix", estate.prefix, "--out", str(out)]) == 0
    backend = load_environment_file(out).state_backend
    assert backend is not None and backend.bucket == "fill-in-terraform-state-bucket"
    assert backend.key == "lambda-layers/staging.tfstate"


def test_an_unexpressible_setting_exits_2_and_writes_nothing(
    aws_env_vars: str,
    aws_client: Callable[[str], Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    estate = build_estate(aws_client)
    events = aws_client("events")
    # A rule on an event pattern: the configuration says schedules only.
    events.put_rule(Name=f"{estate.prefix}on-upload", EventPattern='{"source":["aws.s3"]}')
    events.put_targets(
        Rule=f"{estate.prefix}on-upload", Targets=[{"Id": "api", "Arn": estate.api_arn}]
    )
    existing = tmp_path / "staging.toml"
    existing.write_text("# the reviewed file\n")
    code, out = _discover(tmp_path, estate.prefix)
    err = capsys.readouterr().err
    assert code == 2
    assert f"rule {estate.prefix}on-upload target api: EventPattern" in err
    assert "nothing written" in err and "Traceback" not in err
    # The old file is untouched and no temp file is left beside it.
    assert out.read_text() == "# the reviewed file\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["staging.toml"]


def test_an_unknown_prefix_is_bad_input(
    aws_env_vars: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _discover(tmp_path, "nothing-here-")
    assert code == 2 and not out.exists()
    assert "--prefix nothing-here-: no function" in capsys.readouterr().err
