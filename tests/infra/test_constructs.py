"""Construct inputs refused before anything is synthesized."""

from __future__ import annotations

from pathlib import Path

import pytest
from cdktf import App, TerraformStack

from environments import PolicyStatement
from infra_constructs.deployer_policy import DeployerPolicy
from infra_constructs.execution_role import RoleSpec
from infra_constructs.lambda_function import LambdaFunction
from infra_constructs.lambda_layer import LambdaLayer

from .conftest import EXTRA_LAYER, Synth


@pytest.fixture
def stack(tmp_path: Path, synth: Synth) -> TerraformStack:
    del synth  # the provider is loaded once, by the session synth
    return TerraformStack(App(outdir=str(tmp_path)), "scratch")


def _function(stack: TerraformStack, layers: list[str]) -> LambdaFunction:
    return LambdaFunction(
        stack,
        "fn",
        function_name="bluemoxon-qa-api",
        description="",
        handler="app.main.handler",
        runtime="python3.12",
        architecture="x86_64",
        memory_mb=512,
        timeout_s=30,
        environment={},
        s3_bucket="bucket",
        s3_key="lambda/backend.zip",
        layers=layers,
        role=RoleSpec(role_name="bluemoxon-qa-api-role", logs_policy_name="bluemoxon-qa-api-logs"),
        alias_name="live",
        log_retention_days=30,
    )


def test_function_refuses_more_than_five_layers(stack: TerraformStack) -> None:
    with pytest.raises(ValueError, match=r"^layers: at most 5, got 6$"):
        _function(stack, [EXTRA_LAYER] * 6)


def test_function_accepts_five_layers(stack: TerraformStack) -> None:
    assert _function(stack, [EXTRA_LAYER] * 5).function_name == "bluemoxon-qa-api"


def test_layer_needs_a_runtime(stack: TerraformStack) -> None:
    with pytest.raises(ValueError, match=r"^compatible_runtimes: at least one"):
        LambdaLayer(
            stack,
            "layer",
            layer_name="x",
            description="",
            compatible_runtimes=[],
            compatible_architectures=["x86_64"],
            s3_bucket="b",
            s3_key="k",
        )


def _policy(
    stack: TerraformStack,
    id_: str,
    *,
    function_arns: list[str],
    key_prefix: str,
    lock_key: str = "lambda/deployments/qa/lock.json",
) -> None:
    DeployerPolicy(
        stack,
        id_,
        policy_name="p",
        layer_arn="arn",
        function_arns=function_arns,
        bucket_arn="b",
        key_prefix=key_prefix,
        ci_role_name=None,
        alias_name="live",
        lock_key=lock_key,
    )


def test_deployer_policy_needs_functions_and_a_prefix(stack: TerraformStack) -> None:
    with pytest.raises(ValueError, match=r"^function_arns: at least one"):
        _policy(stack, "p1", function_arns=[], key_prefix="lambda/")
    with pytest.raises(ValueError, match=r"^key_prefix: got 'lambda'"):
        _policy(stack, "p2", function_arns=["f"], key_prefix="lambda")


def test_deployer_policy_deletes_one_lock_object_under_the_prefix(stack: TerraformStack) -> None:
    with pytest.raises(ValueError, match=r"^lock_key: got 'other/lock.json'; one object under"):
        _policy(stack, "p3", function_arns=["f"], key_prefix="lambda/", lock_key="other/lock.json")
    with pytest.raises(ValueError, match=r"^lock_key: got 'lambda/\*'"):
        _policy(stack, "p4", function_arns=["f"], key_prefix="lambda/", lock_key="lambda/*")


def test_role_spec_checks_what_it_imports_and_names() -> None:
    with pytest.raises(ValueError, match=r"^adopt_attachments: arn:x not in managed_policy_arns$"):
        RoleSpec(role_name="r", logs_policy_name="l", adopt_attachments=("arn:x",))
    statement = PolicyStatement(sid="S", actions=("s3:GetObject",), resources=("arn:aws:s3:::b/*",))
    with pytest.raises(ValueError, match=r"^access_policy_name: required with statements$"):
        RoleSpec(role_name="r", logs_policy_name="l", statements=(statement,))
