"""What a running estate has is synthesized and adopted unchanged (issue 17, part 3): each
setting discover writes reaches its Terraform attribute, with the import block that takes
over the resource that exists."""

from __future__ import annotations

import json

import pytest
from cdktf import App

from environments import (
    Adopt,
    AsyncInvoke,
    CreatedRole,
    Environment,
    ExternalCaller,
    FunctionConfig,
    InlinePolicy,
    InvokePermission,
    ScheduleTrigger,
    SqsTrigger,
    UnmanagedFunction,
)
from stacks.lambda_layers_stack import LambdaLayersStack

from .conftest import Synth, read_stacks
from .tfjson import Json, by_field, imports, policy_document_for, resources

ACCOUNT = "123456789012"
QUEUE = f"arn:aws:sqs:us-west-2:{ACCOUNT}:estate-jobs"
FAILED = f"arn:aws:sqs:us-west-2:{ACCOUNT}:estate-failed"
PATTERN = '{"body":{"kind":["profile"]}}'
QUEUES_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": QUEUE}],
    }
)
FOREIGN_POLICY = "estate-api-invoke-scraper"
SCRAPER = "estate-staging-scraper"
INTEGRATION = "a1b2c3/int9"


def estate() -> Environment:
    """A small estate as discover writes it: everything adopted as it runs today."""
    worker = FunctionConfig(
        name="worker",
        handler="app.worker.handler",
        reserved_concurrency=5,
        role=CreatedRole(
            name="estate-worker-role",
            inline_policies=(InlinePolicy(name="queues", document=QUEUES_POLICY),),
            foreign_inline_policies=(FOREIGN_POLICY,),
        ),
        async_invoke=AsyncInvoke(maximum_retry_attempts=1, on_failure_arn=FAILED),
        triggers=(
            SqsTrigger(
                queue_arn=QUEUE,
                batch_size=1,
                function_response_types=("ReportBatchItemFailures",),
                maximum_concurrency=4,
                filter_patterns=(PATTERN,),
                enabled=False,
                target="function",
                existing_uuid="6f1d2c3b-4a59-4e8d-9c7b-a1b2c3d4e5f7",
            ),
            ScheduleTrigger(
                expression="rate(5 minutes)",
                rule_name="estate-warmup",
                target_id="warmup",
                input='{"warmup":true}',
                exists=True,
                target="function",
            ),
            InvokePermission(
                principal="events.amazonaws.com",
                statement_id="AllowWarmup",
                source_arn=f"arn:aws:events:us-west-2:{ACCOUNT}:rule/estate-warmup",
                exists=True,
                target="function",
            ),
        ),
        external_callers=(
            ExternalCaller(
                kind="apigatewayv2-integration", id=INTEGRATION, target="function", owner="api"
            ),
        ),
    )
    api = FunctionConfig(
        name="api",
        handler="app.main.handler",
        reserved_concurrency=10,
        provisioned_concurrency=2,
        adopt=Adopt(alias=True),
    )
    sync = FunctionConfig(name="db-sync", handler="handler.handler", package="own")
    return Environment(
        name="staging",
        name_prefix="estate",
        adopt=True,
        functions=(api, worker, sync),
        unmanaged_functions=(UnmanagedFunction(name=SCRAPER, reason="container image"),),
        foreign_deps_layers=("estate-production-deps",),
        default_tags={"Project": "estate", "ManagedBy": "terraform"},
    )


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, synth: Synth) -> Json:
    del synth  # the provider's import mode is chosen by the session's first synth
    outdir = tmp_path_factory.mktemp("synth-estate")
    app = App(outdir=str(outdir))
    LambdaLayersStack(app, "estate", environment=estate())
    app.synth()
    return read_stacks(outdir)["estate"]


def _function_ref(stack: Json, real_name: str, attribute: str) -> str:
    name, _ = by_field(resources(stack, "aws_lambda_function"), "function_name")[real_name]
    return f"${{aws_lambda_function.{name}.{attribute}}}"


def test_the_sqs_mapping_keeps_partial_batch_failures_and_every_setting(stack: Json) -> None:
    ((address, mapping),) = resources(stack, "aws_lambda_event_source_mapping").items()
    assert mapping["function_response_types"] == ["ReportBatchItemFailures"]
    assert mapping["scaling_config"] == {"maximum_concurrency": 4}
    assert mapping["filter_criteria"] == {"filter": [{"pattern": PATTERN}]}
    assert mapping["enabled"] is False
    # Adopted as it runs: the unqualified function, not the alias.
    assert mapping["function_name"] == _function_ref(stack, "estate-staging-worker", "arn")
    assert imports(stack)[f"aws_lambda_event_source_mapping.{address}"].startswith("6f1d2c3b")


def test_a_schedule_on_the_function_keeps_its_input_and_its_own_permission(stack: Json) -> None:
    ((_, target),) = resources(stack, "aws_cloudwatch_event_target").items()
    assert target["input"] == '{"warmup":true}'
    assert target["arn"] == _function_ref(stack, "estate-staging-worker", "arn")
    permissions = resources(stack, "aws_lambda_permission")
    # Only the configured permission, on the function itself; the schedule adds none.
    ((address, permission),) = permissions.items()
    assert "qualifier" not in permission
    assert imports(stack)[f"aws_lambda_permission.{address}"] == (
        "estate-staging-worker/AllowWarmup"
    )


def test_async_invoke_settings_are_adopted_on_the_function(stack: Json) -> None:
    ((address, config),) = resources(stack, "aws_lambda_function_event_invoke_config").items()
    assert config["maximum_retry_attempts"] == 1
    assert "maximum_event_age_in_seconds" not in config
    assert config["destination_config"] == {"on_failure": {"destination": FAILED}}
    assert "qualifier" not in config
    assert imports(stack)[f"aws_lambda_function_event_invoke_config.{address}"] == (
        "estate-staging-worker"
    )


def test_provisioned_concurrency_is_on_the_alias(stack: Json) -> None:
    ((address, config),) = resources(stack, "aws_lambda_provisioned_concurrency_config").items()
    assert config["provisioned_concurrent_executions"] == 2
    assert config["qualifier"].startswith("${aws_lambda_alias.") and config["qualifier"].endswith(
        ".name}"
    )
    assert imports(stack)[f"aws_lambda_provisioned_concurrency_config.{address}"] == (
        "estate-staging-api,live"
    )


def test_inline_policies_are_adopted_and_foreign_ones_left_alone(stack: Json) -> None:
    policies = resources(stack, "aws_iam_role_policy")
    named = by_field(policies, "name")
    address, body = named["queues"]
    assert json.loads(body["policy"]) == json.loads(QUEUES_POLICY)
    assert imports(stack)[f"aws_iam_role_policy.{address}"] == "estate-worker-role:queues"
    assert FOREIGN_POLICY not in json.dumps(stack)
    # No `inline_policy` on the role: the provider then leaves inline policies it was not
    # told about alone; a block (even empty) would delete the other modules' policies.
    for role in resources(stack, "aws_iam_role").values():
        assert "inline_policy" not in role
    assert not resources(stack, "aws_iam_role_policies_exclusive")


def test_own_package_gets_no_deps_layer_and_no_deployer_rights(stack: Json) -> None:
    functions = by_field(resources(stack, "aws_lambda_function"), "function_name")
    _, sync = functions["estate-staging-db-sync"]
    assert sync.get("layers", []) == []
    _, api = functions["estate-staging-api"]
    assert api["layers"][0].startswith("${aws_lambda_layer_version.")
    ((_, policy),) = resources(stack, "aws_iam_policy").items()
    statements = policy_document_for(stack, policy["policy"])["statement"]
    granted = json.dumps(statements)
    assert _function_ref(stack, "estate-staging-api", "arn") in granted
    assert _function_ref(stack, "estate-staging-db-sync", "arn") not in granted


def test_unmanaged_functions_and_external_callers_synthesize_nothing(stack: Json) -> None:
    text = json.dumps(stack)
    assert SCRAPER not in text
    assert INTEGRATION not in text
    assert len(resources(stack, "aws_lambda_function")) == 3


def test_default_tags_are_on_the_provider(stack: Json) -> None:
    (provider,) = stack["provider"]["aws"]
    assert provider["default_tags"] == [{"tags": {"Project": "estate", "ManagedBy": "terraform"}}]
