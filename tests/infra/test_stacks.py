"""What each synthesized stack must contain; every test reads the one session synth."""

from __future__ import annotations

import json
import re

import pytest

from environments import ENVIRONMENTS, LOCAL_ENDPOINT_DEFAULT
from infra_constructs.deployer_policy import FUNCTION_ACTIONS, LAYER_ACTIONS, OBJECT_ACTIONS
from stacks.lambda_layers_stack import DEFAULT_LOG_RETENTION_DAYS

from .conftest import EXTRA_LAYER, OTHER_ENDPOINT, Synth
from .tfjson import (
    Json,
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
SHORT_NAMES = ("api", "cleanup", "db-sync", "eval-runbook-worker")
LAMBDA_IGNORES = ["filename", "source_code_hash", "layers"]


def test_main_wires_exactly_one_stack_per_environment(synth: Synth) -> None:
    assert sorted(synth.stacks) == sorted(ENVIRONMENTS)
    assert {"staging", "prod", "local"} <= set(ENV_NAMES)
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
def test_four_functions_from_the_backend_package(synth: Synth, env_name: str) -> None:
    stack = synth.stacks[env_name]
    env = ENVIRONMENTS[env_name]
    functions = by_field(resources(stack, "aws_lambda_function"), "function_name")
    assert sorted(functions) == sorted(f"bluemoxon-{env_name}-{short}" for short in SHORT_NAMES)
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
        assert "filename" not in fn
        assert "source_code_hash" not in fn
    handlers = {name: fn["handler"] for name, (_, fn) in functions.items()}
    assert handlers[f"bluemoxon-{env_name}-api"] == "app.main.handler"
    assert all(h.startswith("lambdas.") for n, h in handlers.items() if not n.endswith("-api"))


@pytest.mark.parametrize("env_name", ENV_NAMES)
def test_every_function_ignores_exactly_what_the_deploy_script_manages(
    synth: Synth, env_name: str
) -> None:
    for fn in resources(synth.stacks[env_name], "aws_lambda_function").values():
        assert fn["lifecycle"] == {"ignore_changes": LAMBDA_IGNORES}


@pytest.mark.parametrize("env_name", ENV_NAMES)
def test_every_function_is_wired_to_this_stacks_layer(synth: Synth, env_name: str) -> None:
    stack = synth.stacks[env_name]
    layer_id, _ = only(resources(stack, "aws_lambda_layer_version"))
    expected = [ref("aws_lambda_layer_version", layer_id, "arn")]
    layers = [fn["layers"] for fn in resources(stack, "aws_lambda_function").values()]
    assert layers == [expected] * 4


@pytest.mark.parametrize("env_name", ENV_NAMES)
def test_each_function_has_its_own_log_group_and_least_privilege_role(
    synth: Synth, env_name: str
) -> None:
    stack = synth.stacks[env_name]
    log_groups = by_field(resources(stack, "aws_cloudwatch_log_group"), "name")
    roles = resources(stack, "aws_iam_role")
    role_policies = resources(stack, "aws_iam_role_policy")
    assert len(roles) == len(role_policies) == len(log_groups) == 4
    for fn in resources(stack, "aws_lambda_function").values():
        log_group_id, log_group = log_groups[f"/aws/lambda/{fn['function_name']}"]
        assert log_group["retention_in_days"] == DEFAULT_LOG_RETENTION_DAYS
        assert f"aws_cloudwatch_log_group.{log_group_id}" in fn["depends_on"]

        role_id = fn["role"].removeprefix("${aws_iam_role.").removesuffix(".arn}")
        assert roles[role_id]["name"] == f"{fn['function_name']}-role"
        trust = policy_document_for(stack, roles[role_id]["assume_role_policy"])
        (statement,) = trust["statement"]
        assert statement["actions"] == ["sts:AssumeRole"]
        assert statement["principals"] == [
            {"type": "Service", "identifiers": ["lambda.amazonaws.com"]}
        ]

        (policy,) = [
            p for p in role_policies.values() if p["role"] == ref("aws_iam_role", role_id, "id")
        ]
        (grant,) = policy_document_for(stack, policy["policy"])["statement"]
        assert grant["effect"] == "Allow"
        assert grant["actions"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
        assert grant["resources"] == [ref("aws_cloudwatch_log_group", log_group_id, "arn") + ":*"]


def _deployer_statements(stack: Json) -> dict[str, Json]:
    _, policy = only(resources(stack, "aws_iam_policy"))
    document = policy_document_for(stack, policy["policy"])
    return {s["sid"]: s for s in document["statement"]}


@pytest.mark.parametrize("env_name", ENV_NAMES)
def test_deployer_policy_is_scoped_to_this_environment(synth: Synth, env_name: str) -> None:
    stack = synth.stacks[env_name]
    _, policy = only(resources(stack, "aws_iam_policy"))
    assert policy["name"] == f"bluemoxon-{env_name}-lambda-deployer"
    statements = _deployer_statements(stack)
    assert sorted(statements) == sorted(
        ["LayerVersions", "FunctionCodeAndConfiguration", "ArtifactObjects", "ArtifactListing"]
    )
    assert all(s["effect"] == "Allow" for s in statements.values())

    layer_id, _ = only(resources(stack, "aws_lambda_layer_version"))
    layer_arn = ref("aws_lambda_layer_version", layer_id, "layer_arn")
    assert statements["LayerVersions"]["actions"] == list(LAYER_ACTIONS)
    assert statements["LayerVersions"]["resources"] == [layer_arn, f"{layer_arn}:*"]

    function_ids = sorted(resources(stack, "aws_lambda_function"))
    assert statements["FunctionCodeAndConfiguration"]["actions"] == list(FUNCTION_ACTIONS)
    assert sorted(statements["FunctionCodeAndConfiguration"]["resources"]) == [
        ref("aws_lambda_function", fid, "arn") for fid in function_ids
    ]

    bucket_arn = data_ref("aws_s3_bucket", "artifact_bucket", "arn")
    assert statements["ArtifactObjects"]["actions"] == list(OBJECT_ACTIONS)
    assert statements["ArtifactObjects"]["resources"] == [f"{bucket_arn}/lambda/*"]
    assert statements["ArtifactListing"]["actions"] == ["s3:ListBucket"]
    assert statements["ArtifactListing"]["resources"] == [bucket_arn]
    assert statements["ArtifactListing"]["condition"] == [
        {"test": "StringLike", "variable": "s3:prefix", "values": ["lambda/*"]}
    ]


@pytest.mark.parametrize("env_name", ENV_NAMES)
def test_no_policy_grants_a_wildcard_resource_or_action(synth: Synth, env_name: str) -> None:
    for document in data_sources(synth.stacks[env_name], "aws_iam_policy_document").values():
        for statement in document["statement"]:
            assert "*" not in statement.get("resources", [])
            assert all(not a.endswith(":*") and a != "*" for a in statement["actions"])


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


def test_no_ci_role_configured_means_no_attachment(synth: Synth) -> None:
    assert ENVIRONMENTS["local"].ci_role_name is None
    assert resources(synth.stacks["local"], "aws_iam_role_policy_attachment") == {}


@pytest.mark.parametrize("env_name", ["staging", "prod"])
def test_real_environments_attach_the_deployer_policy_to_their_own_ci_role(
    synth: Synth, env_name: str
) -> None:
    stack = synth.stacks[env_name]
    _, attachment = only(resources(stack, "aws_iam_role_policy_attachment"))
    policy_id, _ = only(resources(stack, "aws_iam_policy"))
    assert attachment["role"] == f"bluemoxon-{env_name}-github-deploy"
    assert attachment["policy_arn"] == ref("aws_iam_policy", policy_id, "arn")


@pytest.mark.parametrize("env_name", ["staging", "prod"])
def test_real_environments_use_the_region_and_the_bindings_provider(
    synth: Synth, env_name: str
) -> None:
    stack = synth.stacks[env_name]
    assert stack["provider"]["aws"] == [{"region": "us-west-2"}]
    required = stack["terraform"]["required_providers"]["aws"]
    assert required["version"].startswith("6.")  # the bindings' own pin, not the mirror's


def test_local_provider_points_every_service_at_the_local_endpoint(synth: Synth) -> None:
    stack = synth.stacks["local"]
    (provider,) = stack["provider"]["aws"]
    endpoint = LOCAL_ENDPOINT_DEFAULT
    assert provider["endpoints"] == [
        {service: endpoint for service in ("iam", "lambda", "logs", "s3", "sts")}
    ]
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
    required = stack["terraform"]["required_providers"]["aws"]
    assert required["version"] == ENVIRONMENTS["local"].provider_version == ">= 5.100.0"


def test_endpoint_variable_moves_only_the_local_stack(
    synth: Synth, synth_other_endpoint: Synth
) -> None:
    for env_name in ("staging", "prod"):
        assert synth_other_endpoint.stacks[env_name] == synth.stacks[env_name]
    (provider,) = synth_other_endpoint.stacks["local"]["provider"]["aws"]
    assert set(provider["endpoints"][0].values()) == {OTHER_ENDPOINT}
    assert OTHER_ENDPOINT not in json.dumps(synth.stacks["local"])


def test_unconfigured_state_stays_local_beside_the_stack(synth: Synth) -> None:
    assert ENVIRONMENTS["local"].state_backend is None
    assert synth.stacks["local"]["terraform"]["backend"] == {
        "local": {"path": "terraform.local.tfstate"}
    }


@pytest.mark.parametrize("env_name", ["staging", "prod"])
def test_real_environments_keep_state_in_s3_per_environment(synth: Synth, env_name: str) -> None:
    # CI runners are ephemeral: local state would be lost after every deploy.
    assert synth.stacks[env_name]["terraform"]["backend"] == {
        "s3": {
            "bucket": "bluemoxon-terraform-state",
            "key": f"lambda-layers/{env_name}.tfstate",
            "region": "us-west-2",
            "encrypt": True,
            "use_lockfile": True,
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
    assert sorted(outputs) == sorted(
        [
            "artifact_bucket_name",
            "deployer_policy_arn",
            "function_names",
            "layer_arn",
            "layer_version_arn",
        ]
    )


def test_configured_state_backend_is_s3_with_native_locking(configured_stack: Json) -> None:
    assert configured_stack["terraform"]["backend"] == {
        "s3": {
            "bucket": "bluemoxon-terraform-state",
            "key": "lambda-layers/qa.tfstate",
            "region": "us-west-2",
            "encrypt": True,
            "use_lockfile": True,
        }
    }


def test_configured_ci_role_gets_the_deployer_policy(configured_stack: Json) -> None:
    _, attachment = only(resources(configured_stack, "aws_iam_role_policy_attachment"))
    policy_id, _ = only(resources(configured_stack, "aws_iam_policy"))
    assert attachment["role"] == "github-actions-deployer"
    assert attachment["policy_arn"] == ref("aws_iam_policy", policy_id, "arn")


def test_extra_layers_follow_the_deps_layer(configured_stack: Json) -> None:
    layer_id, _ = only(resources(configured_stack, "aws_lambda_layer_version"))
    deps = ref("aws_lambda_layer_version", layer_id, "arn")
    functions = by_field(resources(configured_stack, "aws_lambda_function"), "function_name")
    assert functions["bluemoxon-qa-api"][1]["layers"] == [deps, EXTRA_LAYER]
    assert functions["bluemoxon-qa-cleanup"][1]["layers"] == [deps]
