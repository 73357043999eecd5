"""Every configuration option reaches Terraform: the "qa" environment (conftest) sets each."""

from __future__ import annotations

from typing import Any

from environments.roles import ENI_MANAGEMENT_POLICY, XRAY_WRITE_POLICY

from .conftest import (
    EXTRA_LAYER,
    QA_ALARM,
    QA_API_SOURCE,
    QA_DLQ,
    QA_LOG_GROUP,
    QA_QUEUE,
    QA_ROLE_ARN,
    QA_VPC,
    VPC_ACCESS,
)
from .tfjson import (
    Json,
    by_field,
    data_ref,
    data_sources,
    deployer_attachments,
    imports,
    only,
    policy_document_for,
    ref,
    resources,
)


def function(stack: Json, name: str) -> tuple[str, Json]:
    return by_field(resources(stack, "aws_lambda_function"), "function_name")[name]


def attachments_of(stack: Json, role_id: str) -> list[str]:
    return sorted(
        body["policy_arn"]
        for body in resources(stack, "aws_iam_role_policy_attachment").values()
        if body["role"] == ref("aws_iam_role", role_id, "name")
    )


def role_id_of(fn: Json) -> str:
    return str(fn["role"]).removeprefix("${aws_iam_role.").removesuffix(".arn}")


def test_state_backend_is_s3_with_native_locking(configured_stack: Json) -> None:
    assert configured_stack["terraform"]["backend"] == {
        "s3": {
            "bucket": "bluemoxon-terraform-state",
            "key": "lambda-layers/qa.tfstate",
            "region": "us-west-2",
            "encrypt": True,
            "use_lockfile": True,
        }
    }


def test_ci_role_gets_the_deployer_policy(configured_stack: Json) -> None:
    _, attachment = only(deployer_attachments(configured_stack))
    policy_id, _ = only(resources(configured_stack, "aws_iam_policy"))
    assert attachment["role"] == "github-actions-deployer"
    assert attachment["policy_arn"] == ref("aws_iam_policy", policy_id, "arn")


def test_extra_layers_follow_the_deps_layer(configured_stack: Json) -> None:
    layer_id, _ = only(resources(configured_stack, "aws_lambda_layer_version"))
    deps = ref("aws_lambda_layer_version", layer_id, "arn")
    assert function(configured_stack, "bluemoxon-qa-api")[1]["layers"] == [deps, EXTRA_LAYER]
    assert function(configured_stack, "bluemoxon-qa-cleanup")[1]["layers"] == [deps]


def test_provider_constraint_alias_name_and_terraform_version(configured_stack: Json) -> None:
    terraform = configured_stack["terraform"]
    assert terraform["required_providers"]["aws"]["version"] == "~> 6.25"
    # Adoption emits import blocks: Terraform 1.5 at least.
    assert terraform["required_version"] == ">= 1.5"
    names = {alias["name"] for alias in resources(configured_stack, "aws_lambda_alias").values()}
    assert names == {"current"}


def test_network_tracing_concurrency_storage_dead_letters_and_tags(configured_stack: Json) -> None:
    _, fn = function(configured_stack, "bluemoxon-qa-api")
    assert fn["vpc_config"] == {
        "subnet_ids": list(QA_VPC.subnet_ids),
        "security_group_ids": list(QA_VPC.security_group_ids),
    }
    assert fn["tracing_config"] == {"mode": "Active"}
    assert fn["reserved_concurrent_executions"] == 50
    assert fn["ephemeral_storage"] == {"size": 1024}
    assert fn["dead_letter_config"] == {"target_arn": QA_DLQ}
    assert fn["tags"] == {"Team": "platform", "Component": "api"}
    groups = by_field(resources(configured_stack, "aws_cloudwatch_log_group"), "name")
    _, group = groups["/aws/lambda/bluemoxon-qa-api"]
    assert group["retention_in_days"] == 90
    assert group["tags"] == {"Team": "platform", "Component": "api"}


def test_unset_options_are_left_to_lambda(configured_stack: Json) -> None:
    _, worker = function(configured_stack, "bluemoxon-qa-eval-runbook-worker")
    for unset in (
        "vpc_config",
        "reserved_concurrent_executions",
        "ephemeral_storage",
        "dead_letter_config",
        "logging_config",
    ):
        assert unset not in worker, unset
    # Environment tags only; tracing comes from staging's Active.
    assert worker["tags"] == {"Team": "platform"}
    assert worker["tracing_config"] == {"mode": "Active"}


def test_created_role_gets_eni_and_xray_policies_it_needs(configured_stack: Json) -> None:
    _, api = function(configured_stack, "bluemoxon-qa-api")
    role_id = role_id_of(api)
    role = resources(configured_stack, "aws_iam_role")[role_id]
    assert role["name"] == "bluemoxon-qa-api-role"
    assert role["tags"] == {"Team": "platform", "Component": "api"}
    assert attachments_of(configured_stack, role_id) == sorted(
        [ENI_MANAGEMENT_POLICY, XRAY_WRITE_POLICY]
    )
    # db-sync lists the VPC access policy (ENI included) and traces PassThrough: no more.
    _, db_sync = function(configured_stack, "qa_db_sync")
    assert attachments_of(configured_stack, role_id_of(db_sync)) == [VPC_ACCESS]


def test_created_role_statements_become_an_access_policy(configured_stack: Json) -> None:
    _, db_sync = function(configured_stack, "qa_db_sync")
    role_id = role_id_of(db_sync)
    policies = by_field(resources(configured_stack, "aws_iam_role_policy"), "name")
    _, access = policies["qa_db_sync-role-access"]
    assert access["role"] == ref("aws_iam_role", role_id, "id")
    (statement,) = policy_document_for(configured_stack, access["policy"])["statement"]
    assert statement == {
        "sid": "Dumps",
        "effect": "Allow",
        "actions": ["s3:PutObject"],
        "resources": ["arn:aws:s3:::qa/*"],
    }
    assert "qa_db_sync-logs" in policies


def test_existing_role_by_arn_and_existing_log_group(configured_stack: Json) -> None:
    _, cleanup = function(configured_stack, "bluemoxon-qa-cleanup")
    assert cleanup["role"] == QA_ROLE_ARN
    assert cleanup["logging_config"] == {"log_format": "Text", "log_group": QA_LOG_GROUP}
    assert "/aws/lambda/bluemoxon-qa-cleanup" not in by_field(
        resources(configured_stack, "aws_cloudwatch_log_group"), "name"
    )
    groups = by_field(data_sources(configured_stack, "aws_cloudwatch_log_group"), "name")
    assert QA_LOG_GROUP in groups
    roles = {r["name"] for r in resources(configured_stack, "aws_iam_role").values()}
    assert not any("cleanup" in name for name in roles)


def _alias_arn(stack: Json, function_id: str) -> str:
    for alias_id, alias in resources(stack, "aws_lambda_alias").items():
        if alias["function_name"] == ref("aws_lambda_function", function_id, "function_name"):
            return ref("aws_lambda_alias", alias_id, "arn")
    raise AssertionError(function_id)


def _alias_name(stack: Json, function_id: str) -> str:
    return _alias_arn(stack, function_id).replace(".arn}", ".name}")


def test_triggers_invoke_the_alias(configured_stack: Json) -> None:
    api_id, _ = function(configured_stack, "bluemoxon-qa-api")
    cleanup_id, _ = function(configured_stack, "bluemoxon-qa-cleanup")
    worker_id, _ = function(configured_stack, "bluemoxon-qa-eval-runbook-worker")

    _, mapping = only(resources(configured_stack, "aws_lambda_event_source_mapping"))
    assert mapping["event_source_arn"] == QA_QUEUE
    assert mapping["function_name"] == _alias_arn(configured_stack, worker_id)
    assert mapping["batch_size"] == 100
    assert mapping["maximum_batching_window_in_seconds"] == 5

    _, rule = only(resources(configured_stack, "aws_cloudwatch_event_rule"))
    assert rule["name"] == "bluemoxon-qa-cleanup-schedule"
    assert rule["schedule_expression"] == "rate(1 day)"
    assert rule["tags"] == {"Team": "platform"}
    _, target = only(resources(configured_stack, "aws_cloudwatch_event_target"))
    assert target["arn"] == _alias_arn(configured_stack, cleanup_id)

    permissions = by_field(resources(configured_stack, "aws_lambda_permission"), "statement_id")
    _, schedule = permissions["AllowEventBridge-bluemoxon-qa-cleanup-schedule"]
    assert schedule["principal"] == "events.amazonaws.com"
    assert schedule["qualifier"] == _alias_name(configured_stack, cleanup_id)
    assert schedule["source_arn"].startswith("${aws_cloudwatch_event_rule.")
    _, api = permissions["AllowQaApi"]
    assert api["principal"] == "apigateway.amazonaws.com"
    assert api["source_arn"] == QA_API_SOURCE
    assert api["qualifier"] == _alias_name(configured_stack, api_id)
    assert all(p["action"] == "lambda:InvokeFunction" for _, p in permissions.values())


def test_adoption_follows_each_functions_override(configured_stack: Json) -> None:
    found = imports(configured_stack)
    by_id: dict[str, Any] = {import_id: to for to, import_id in found.items()}
    # api: ADOPT_NOTHING (a new function); cleanup: its function only (role and log group
    # are managed elsewhere); db-sync: all but its role; worker: all, and its alias.
    assert "bluemoxon-qa-api" not in by_id
    assert by_id["bluemoxon-qa-cleanup"].startswith("aws_lambda_function.")
    assert by_id["qa_db_sync"].startswith("aws_lambda_function.")
    assert by_id["/aws/lambda/qa_db_sync"].startswith("aws_cloudwatch_log_group.")
    assert by_id["bluemoxon-qa-eval-runbook-worker/current"].startswith("aws_lambda_alias.")
    # The worker's role exists (Adopt's default); what the stack adds to it does not.
    assert [to.split(".")[0] for to in found if to.startswith("aws_iam_")] == ["aws_iam_role"]
    # New triggers are created: nothing says they exist.
    assert not any(
        to.startswith(("aws_lambda_event_source", "aws_cloudwatch_event")) for to in found
    )
    assert sorted(by_id) == sorted(
        [
            "bluemoxon-qa-cleanup",
            "qa_db_sync",
            "/aws/lambda/qa_db_sync",
            "bluemoxon-qa-eval-runbook-worker",
            "/aws/lambda/bluemoxon-qa-eval-runbook-worker",
            "bluemoxon-qa-eval-runbook-worker/current",
            "bluemoxon-qa-eval-runbook-worker-role",
        ]
    )


def test_canary_alarms_are_describable_by_this_environment_only(configured_stack: Json) -> None:
    _, policy = only(resources(configured_stack, "aws_iam_policy"))
    statements = {
        s["sid"]: s for s in policy_document_for(configured_stack, policy["policy"])["statement"]
    }
    alarms = statements["CanaryAlarms"]
    assert alarms["actions"] == ["cloudwatch:DescribeAlarms"]
    account = data_ref("aws_caller_identity", "account", "account_id")
    assert alarms["resources"] == [f"arn:aws:cloudwatch:us-west-2:{account}:alarm:{QA_ALARM}"]
    assert statements["VersionsAndAlias"]["resources"][1].endswith(":current")
