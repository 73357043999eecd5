"""What each synthesized stack must contain; every test reads the one session synth."""

from __future__ import annotations

import json
import re

import pytest

from environments import (
    AWS_PROVIDER_BINDINGS_VERSION,
    ENVIRONMENTS,
    LOCAL_ENDPOINT_DEFAULT,
    CreatedRole,
    ExistingRole,
)

from .conftest import OTHER_ENDPOINT, Synth
from .tfjson import (
    by_field,
    data_ref,
    data_sources,
    only,
    policy_document_for,
    ref,
    resources,
)

# Every configured environment: a new one is covered without editing this file.
ENV_NAMES = tuple(ENVIRONMENTS)
LOCAL_NAMES = tuple(name for name, env in ENVIRONMENTS.items() if env.is_local)
# The design's four functions (local, legacy); staging and prod are the running estate's.
SHORT_NAMES = ("api", "cleanup", "db-sync", "eval-runbook-worker")
ESTATE_NAMES = (
    "analysis-worker",
    "api",
    "cleanup",
    "eval-runbook-worker",
    "profile-worker",
    "retry-queue-failed",
    "tracking-dispatcher",
    "tracking-worker",
)
LAMBDA_IGNORES = ["filename", "source_code_hash", "layers", "s3_bucket", "s3_key"]
ALIAS_IGNORES = ["function_version", "routing_config"]


def test_main_wires_exactly_one_stack_per_environment(synth: Synth) -> None:
    assert sorted(synth.stacks) == sorted(ENVIRONMENTS)
    assert {"staging", "prod", "local", "legacy"} <= set(ENV_NAMES)
    for name, stack in synth.stacks.items():
        assert stack["//"]["metadata"]["stackName"] == name


@pytest.mark.parametrize("env_name", ENV_NAMES)
def test_artifact_bucket_is_read_not_created(synth: Synth, env_name: str) -> None:
    stack = synth.stacks[env_name]
    name, bucket = only(data_sources(stack, "aws_s3_bucket"))
    assert name == "artifact_bucket"
    assert bucket["bucket"] == f"bluemoxon-frontend-{env_name}"
    assert resources(stack, "aws_s3_bucket") == {}


@pytest.mark.parametrize("env_name", ENV_NAMES)
def test_layer_version(synth: Synth, env_name: str) -> None:
    stack = synth.stacks[env_name]
    _, layer = only(resources(stack, "aws_lambda_layer_version"))
    assert layer["layer_name"] == f"bluemoxon-{env_name}-deps"
    assert layer["s3_bucket"] == data_ref("aws_s3_bucket", "artifact_bucket", "id")
    assert layer["s3_key"] == "lambda/layer.zip"
    assert layer["compatible_runtimes"] == ["python3.12"]
    assert layer["compatible_architectures"] == ["x86_64"]
    assert layer["skip_destroy"] is True
    assert layer["lifecycle"] == {"ignore_changes": ["s3_key"]}
    assert layer["description"]


@pytest.mark.parametrize("env_name", ENV_NAMES)
def test_functions_from_the_backend_package(synth: Synth, env_name: str) -> None:
    stack = synth.stacks[env_name]
    env = ENVIRONMENTS[env_name]
    functions = by_field(resources(stack, "aws_lambda_function"), "function_name")
    shorts = {
        "staging": (*ESTATE_NAMES, "db-sync"),  # db-sync runs in staging only
        "prod": ESTATE_NAMES,
    }.get(env_name, SHORT_NAMES)
    assert sorted(functions) == sorted(env.function_name(short) for short in shorts)
    for config in env.functions:
        _, fn = functions[env.function_name(config.name)]
        assert fn["handler"] == config.handler
        assert fn["runtime"] == "python3.12"
        assert fn["architectures"] == ["x86_64"]
        assert fn["memory_size"] == config.memory_mb
        assert fn["timeout"] == config.timeout_s
        assert fn["environment"] == {"variables": dict(config.environment)}
        assert fn["environment"]["variables"]["ENVIRONMENT"] == env_name
        assert fn["s3_bucket"] == data_ref("aws_s3_bucket", "artifact_bucket", "id")
        assert fn["s3_key"] == "lambda/backend.zip"
        assert fn["publish"] is True
        assert "filename" not in fn
        assert "source_code_hash" not in fn
    handlers = {name: fn["handler"] for name, (_, fn) in functions.items()}
    assert handlers[env.function_name("api")] == "app.main.handler"


@pytest.mark.parametrize("env_name", ENV_NAMES)
def test_every_function_has_an_alias_at_its_first_published_version(
    synth: Synth, env_name: str
) -> None:
    stack = synth.stacks[env_name]
    env = ENVIRONMENTS[env_name]
    functions = resources(stack, "aws_lambda_function")
    aliases = resources(stack, "aws_lambda_alias")
    assert len(aliases) == len(functions) == len(env.functions)
    # The estate's deploy workflow named its alias after the environment.
    assert env.alias_name == {"staging": "staging", "prod": "prod"}.get(env_name, "live")
    for alias in aliases.values():
        assert alias["name"] == env.alias_name
        function_id = alias["function_name"].split(".")[1]
        assert alias["function_name"] == ref("aws_lambda_function", function_id, "function_name")
        assert alias["function_version"] == ref("aws_lambda_function", function_id, "version")
        assert alias["lifecycle"] == {"ignore_changes": ALIAS_IGNORES}


@pytest.mark.parametrize("env_name", ENV_NAMES)
def test_every_function_ignores_exactly_what_the_deploy_script_manages(
    synth: Synth, env_name: str
) -> None:
    for fn in resources(synth.stacks[env_name], "aws_lambda_function").values():
        assert fn["lifecycle"] == {"ignore_changes": LAMBDA_IGNORES}


@pytest.mark.parametrize("env_name", ENV_NAMES)
def test_every_function_is_wired_to_this_stacks_layer(synth: Synth, env_name: str) -> None:
    stack = synth.stacks[env_name]
    env = ENVIRONMENTS[env_name]
    layer_id, _ = only(resources(stack, "aws_lambda_layer_version"))
    expected = [ref("aws_lambda_layer_version", layer_id, "arn")]
    functions = by_field(resources(stack, "aws_lambda_function"), "function_name")
    for config in env.functions:
        _, fn = functions[env.function_name(config.name)]
        # A function with its own package (staging's db-sync) carries no deps layer.
        assert fn.get("layers", []) == (expected if config.package == "shared" else [])
    assert len(env.released_functions) >= 4


@pytest.mark.parametrize("env_name", ENV_NAMES)
def test_each_function_has_its_own_log_group_and_least_privilege_role(
    synth: Synth, env_name: str
) -> None:
    stack = synth.stacks[env_name]
    env = ENVIRONMENTS[env_name]
    log_groups = by_field(resources(stack, "aws_cloudwatch_log_group"), "name")
    roles = resources(stack, "aws_iam_role")
    role_policies = resources(stack, "aws_iam_role_policy")
    functions = by_field(resources(stack, "aws_lambda_function"), "function_name")
    created = [f for f in env.functions if isinstance(f.role, CreatedRole)]
    assert len(log_groups) == len(env.functions)
    assert len(roles) == len(created)
    for config in env.functions:
        _, fn = functions[env.function_name(config.name)]
        log_group_id, log_group = log_groups[f"/aws/lambda/{fn['function_name']}"]
        assert log_group["retention_in_days"] == env.log_retention(config)
        assert f"aws_cloudwatch_log_group.{log_group_id}" in fn["depends_on"]
        if isinstance(config.role, ExistingRole):
            # Used, never managed: read by name, nothing created or attached.
            assert fn["role"] == data_ref(
                "aws_iam_role", f"existing_role_{config.role.name.replace('-', '_')}", "arn"
            )
            continue

        role_id = fn["role"].removeprefix("${aws_iam_role.").removesuffix(".arn}")
        assert roles[role_id]["name"] == config.role.role_name(fn["function_name"])
        trust = policy_document_for(stack, roles[role_id]["assume_role_policy"])
        (statement,) = trust["statement"]
        assert statement["actions"] == ["sts:AssumeRole"]
        assert statement["principals"] == [
            {"type": "Service", "identifiers": ["lambda.amazonaws.com"]}
        ]

        (policy,) = [
            p
            for p in role_policies.values()
            if p["role"] == ref("aws_iam_role", role_id, "id") and p["name"].endswith("-logs")
        ]
        assert policy["name"] == f"{fn['function_name']}-logs"
        (grant,) = policy_document_for(stack, policy["policy"])["statement"]
        assert grant["effect"] == "Allow"
        assert grant["actions"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
        assert grant["resources"] == [ref("aws_cloudwatch_log_group", log_group_id, "arn") + ":*"]


@pytest.mark.parametrize(
    ("env_name", "others"),
    [(name, tuple(other for other in ENV_NAMES if other != name)) for name in ENV_NAMES],
)
def test_a_stack_never_references_another_environment(
    synth: Synth, env_name: str, others: tuple[str, ...]
) -> None:
    # The terraform block and top-level metadata name the backend *type* ("local"); the
    # backend is asserted on its own below.
    stack = {k: v for k, v in synth.stacks[env_name].items() if k not in {"terraform", "//"}}
    text = json.dumps(stack)
    assert re.search(rf"(?<![a-z]){env_name}(?![a-z])", text)
    for other in others:
        assert not re.search(rf"(?<![a-z]){other}(?![a-z])", text), other


@pytest.mark.parametrize("env_name", ENV_NAMES)
def test_provider_constraint_is_the_environments(synth: Synth, env_name: str) -> None:
    required = synth.stacks[env_name]["terraform"]["required_providers"]["aws"]
    assert required["version"] == ENVIRONMENTS[env_name].provider_version


@pytest.mark.parametrize("env_name", ["staging", "prod"])
def test_real_environments_use_the_region_and_the_bindings_provider(
    synth: Synth, env_name: str
) -> None:
    stack = synth.stacks[env_name]
    # The estate root's default_tags, on every resource that takes tags.
    assert stack["provider"]["aws"] == [
        {
            "region": "us-west-2",
            "default_tags": [{"tags": dict(ENVIRONMENTS[env_name].default_tags)}],
        }
    ]
    assert ENVIRONMENTS[env_name].default_tags["Environment"] == env_name
    required = stack["terraform"]["required_providers"]["aws"]
    # The bindings' own pin, not the mirror's.
    assert required["version"] == AWS_PROVIDER_BINDINGS_VERSION == "6.25.0"


@pytest.mark.parametrize("env_name", LOCAL_NAMES)
def test_local_provider_points_every_service_at_the_local_endpoint(
    synth: Synth, env_name: str
) -> None:
    stack = synth.stacks[env_name]
    (provider,) = stack["provider"]["aws"]
    endpoint = LOCAL_ENDPOINT_DEFAULT
    services = ("cloudwatch", "ec2", "events", "iam", "lambda", "logs", "s3", "sqs", "sts")
    assert provider["endpoints"] == [{service: endpoint for service in services}]
    assert provider["access_key"] == provider["secret_key"] == "test"
    assert provider["region"] == "us-west-2"
    for flag in (
        "s3_use_path_style",
        "skip_credentials_validation",
        "skip_requesting_account_id",
        "skip_region_validation",
    ):
        assert provider[flag] is True, flag
    assert provider["skip_metadata_api_check"] == "true"
    # Both accept the offline mirror's 5.100; legacy's state was written by 5.x.
    required = stack["terraform"]["required_providers"]["aws"]["version"]
    assert required == {"local": ">= 5.100.0", "legacy": "~> 5.100"}[env_name]


def test_endpoint_variable_moves_only_the_local_stacks(
    synth: Synth, synth_other_endpoint: Synth
) -> None:
    for env_name in ENV_NAMES:
        if env_name in LOCAL_NAMES:
            (provider,) = synth_other_endpoint.stacks[env_name]["provider"]["aws"]
            assert set(provider["endpoints"][0].values()) == {OTHER_ENDPOINT}
            assert OTHER_ENDPOINT not in json.dumps(synth.stacks[env_name])
        else:
            assert synth_other_endpoint.stacks[env_name] == synth.stacks[env_name]


def test_unconfigured_state_stays_local_beside_the_stack(synth: Synth) -> None:
    assert ENVIRONMENTS["local"].state_backend is None
    assert synth.stacks["local"]["terraform"]["backend"] == {
        "local": {"path": "terraform.local.tfstate"}
    }


@pytest.mark.parametrize("env_name", ["staging", "prod"])
def test_real_environments_keep_state_in_s3_per_environment(synth: Synth, env_name: str) -> None:
    # CI runners are ephemeral: local state would be lost after every deploy. The estate's
    # bucket and DynamoDB lock table, under a key of this stack's own.
    assert synth.stacks[env_name]["terraform"]["backend"] == {
        "s3": {
            "bucket": "bluemoxon-terraform-state",
            "key": f"lambda-layers/{env_name}.tfstate",
            "region": "us-west-2",
            "encrypt": True,
            "dynamodb_table": "bluemoxon-terraform-locks",
        }
    }


@pytest.mark.parametrize("env_name", ENV_NAMES)
def test_outputs(synth: Synth, env_name: str) -> None:
    stack = synth.stacks[env_name]
    outputs = stack["output"]
    layer_id, _ = only(resources(stack, "aws_lambda_layer_version"))
    assert outputs["layer_version_arn"]["value"] == ref("aws_lambda_layer_version", layer_id, "arn")
    assert outputs["layer_arn"]["value"] == ref("aws_lambda_layer_version", layer_id, "layer_arn")
    assert outputs["function_names"]["value"] == list(ENVIRONMENTS[env_name].function_names)
    aliases = by_field(resources(stack, "aws_lambda_alias"), "function_name")
    functions = resources(stack, "aws_lambda_function")
    expected = {}
    for short in (f.name for f in ENVIRONMENTS[env_name].functions):
        (function_id,) = [
            fid
            for fid, fn in functions.items()
            if fn["function_name"] == ENVIRONMENTS[env_name].function_name(short)
        ]
        alias_id, _ = aliases[ref("aws_lambda_function", function_id, "function_name")]
        expected[short] = ref("aws_lambda_alias", alias_id, "arn")
    assert outputs["alias_arns"]["value"] == expected
    assert sorted(outputs) == sorted(
        [
            "alias_arns",
            "artifact_bucket_name",
            "deployer_policy_arn",
            "function_names",
            "layer_arn",
            "layer_version_arn",
        ]
    )
