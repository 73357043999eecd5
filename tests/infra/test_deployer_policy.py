"""The CI deployer's policy in every stack: what the scripts may call, scoped to one
environment (tests/scripts/test_policy_coverage.py checks the calls against it)."""

from __future__ import annotations

import pytest

from environments import ENVIRONMENTS
from infra_constructs.deployer_policy import (
    ALIAS_ACTIONS,
    FUNCTION_ACTIONS,
    LAYER_ACTIONS,
    LOCK_ACTIONS,
    LOG_ACTIONS,
    OBJECT_ACTIONS,
    VERSION_ACTIONS,
)

from .conftest import Synth
from .tfjson import (
    Json,
    data_ref,
    data_sources,
    deployer_attachments,
    only,
    policy_document_for,
    ref,
    resources,
)

ENV_NAMES = tuple(ENVIRONMENTS)


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
        [
            "LayerVersions",
            "FunctionCodeAndConfiguration",
            "VersionsAndAlias",
            "PublishedVersions",
            "ArtifactObjects",
            "ArtifactListing",
            "DeployLock",
            "FunctionLogs",
        ]
    )
    assert all(s["effect"] == "Allow" for s in statements.values())
    # A canary's bake reads the functions' own log groups, nothing else (FilterLogEvents
    # is authorised on `GROUP_ARN:*`). An existing log group is a data source's ARN.
    assert statements["FunctionLogs"]["actions"] == list(LOG_ACTIONS)
    groups = statements["FunctionLogs"]["resources"]
    assert len(groups) == len(resources(stack, "aws_lambda_function"))
    assert all(g.startswith("${") and g.endswith(".arn}:*") and "log_group" in g for g in groups)

    layer_id, _ = only(resources(stack, "aws_lambda_layer_version"))
    layer_arn = ref("aws_lambda_layer_version", layer_id, "layer_arn")
    assert statements["LayerVersions"]["actions"] == list(LAYER_ACTIONS)
    assert statements["LayerVersions"]["resources"] == [layer_arn, f"{layer_arn}:*"]

    env = ENVIRONMENTS[env_name]
    # Only what releases move: staging's db-sync has its own package and gets no rights.
    released = set(env.released_function_names)
    function_ids = sorted(
        fid
        for fid, fn in resources(stack, "aws_lambda_function").items()
        if fn["function_name"] in released
    )
    assert len(function_ids) == len(released)
    function_arns = [ref("aws_lambda_function", fid, "arn") for fid in function_ids]
    assert statements["FunctionCodeAndConfiguration"]["actions"] == list(FUNCTION_ACTIONS)
    assert sorted(statements["FunctionCodeAndConfiguration"]["resources"]) == function_arns
    # Versions and the one alias of this environment's functions.
    assert statements["VersionsAndAlias"]["actions"] == list(ALIAS_ACTIONS)
    assert sorted(statements["VersionsAndAlias"]["resources"]) == sorted(
        [*function_arns, *(f"{arn}:{env.alias_name}" for arn in function_arns)]
    )
    # Deleting is granted on qualified ARNs only: old versions, never the function itself.
    assert statements["PublishedVersions"]["actions"] == list(VERSION_ACTIONS)
    assert sorted(statements["PublishedVersions"]["resources"]) == [
        f"{arn}:*" for arn in function_arns
    ]
    assert not any(
        "lambda:DeleteFunction" in s["actions"] and arn in s["resources"]
        for s in statements.values()
        for arn in function_arns
    )

    bucket_arn = data_ref("aws_s3_bucket", "artifact_bucket", "arn")
    assert statements["ArtifactObjects"]["actions"] == list(OBJECT_ACTIONS)
    assert statements["ArtifactObjects"]["resources"] == [f"{bucket_arn}/lambda/*"]
    assert statements["ArtifactListing"]["actions"] == ["s3:ListBucket"]
    assert statements["ArtifactListing"]["resources"] == [bucket_arn]
    assert statements["ArtifactListing"]["condition"] == [
        {"test": "StringLike", "variable": "s3:prefix", "values": ["lambda/*"]}
    ]
    # The deploy lock, only: no other object may be deleted.
    assert statements["DeployLock"]["actions"] == list(LOCK_ACTIONS)
    assert statements["DeployLock"]["resources"] == [
        f"{bucket_arn}/lambda/deployments/{env_name}/lock.json"
    ]
    # No environment configures alarms yet: a canary only waits, nothing to describe.
    assert "CanaryAlarms" not in statements


@pytest.mark.parametrize("env_name", ENV_NAMES)
def test_no_policy_grants_a_wildcard_resource_or_action(synth: Synth, env_name: str) -> None:
    for document in data_sources(synth.stacks[env_name], "aws_iam_policy_document").values():
        for statement in document["statement"]:
            assert "*" not in statement.get("resources", [])
            assert all(not a.endswith(":*") and a != "*" for a in statement["actions"])


def test_no_ci_role_configured_means_no_attachment(synth: Synth) -> None:
    assert ENVIRONMENTS["local"].ci_role_name is None
    assert resources(synth.stacks["local"], "aws_iam_role_policy_attachment") == {}


@pytest.mark.parametrize("env_name", ["staging", "prod"])
def test_real_environments_attach_the_deployer_policy_to_their_own_ci_role(
    synth: Synth, env_name: str
) -> None:
    stack = synth.stacks[env_name]
    _, attachment = only(deployer_attachments(stack))
    policy_id, _ = only(resources(stack, "aws_iam_policy"))
    assert attachment["role"] == f"bluemoxon-{env_name}-github-deploy"
    assert attachment["policy_arn"] == ref("aws_iam_policy", policy_id, "arn")
