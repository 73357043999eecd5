"""Session fixtures for the infrastructure tests: every stack is synthesized ONCE.

The provider bindings are imported the fast way once per session (infra_constructs/_aws.py);
the slow way and the real `cdktf` CLI run in subprocesses so this process stays lean.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from cdktf import App

import main
from environments import (
    ADOPT_NOTHING,
    ENVIRONMENTS,
    Adopt,
    CreatedRole,
    Environment,
    ExistingRole,
    FunctionConfig,
    InvokePermission,
    PolicyStatement,
    ScheduleTrigger,
    SqsTrigger,
    StateBackend,
    VpcConfig,
)
from stacks.lambda_layers_stack import LambdaLayersStack

REPO_ROOT = Path(__file__).resolve().parents[2]
CHECKOV_CONFIG = REPO_ROOT / ".checkov.yaml"
# An explicit process environment for main.build_app, so the caller's AWS_ENDPOINT_URL or
# import switch can never leak into assertions or snapshots.
BASE_ENVIRON: Mapping[str, str] = {}
OTHER_ENDPOINT = "http://127.0.0.1:4566"
EXTRA_LAYER = "arn:aws:lambda:us-west-2:123456789012:layer:vendor-extension:7"
# The "qa" environment's settings (configured_environment): every option, somewhere.
QA_ALARM = "qa-api-errors"
QA_DLQ = "arn:aws:sqs:us-west-2:123456789012:qa-dlq"
QA_LOG_GROUP = "/shared/qa-cleanup"
QA_ROLE_ARN = "arn:aws:iam::123456789012:role/service-role/qa-cleanup"
QA_QUEUE = "arn:aws:sqs:us-west-2:123456789012:qa-runbooks"
QA_API_SOURCE = "arn:aws:execute-api:us-west-2:123456789012:qaapi/*/*"
QA_VPC = VpcConfig(
    subnet_ids=("subnet-0123456789abcdef0",), security_group_ids=("sg-0123456789abcdef0",)
)
VPC_ACCESS = "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"

Json = dict[str, Any]


@dataclass(frozen=True)
class Synth:
    outdir: Path
    stacks: Mapping[str, Json]

    def stack_dir(self, name: str) -> Path:
        return self.outdir / "stacks" / name


def read_stacks(outdir: Path) -> dict[str, Json]:
    return {
        path.parent.name: json.loads(path.read_text())
        for path in sorted((outdir / "stacks").glob("*/cdk.tf.json"))
    }


def subprocess_env(**overrides: str) -> dict[str, str]:
    """The current environment minus every variable main.py reads, plus `overrides`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {main.ENDPOINT_VAR, main.FAST_IMPORT_VAR, main.ENVIRONMENTS_DIR_VAR, "CDKTF_OUTDIR"}
    }
    env.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    env.setdefault("CHECKPOINT_DISABLE", "1")
    env.update(overrides)
    return env


@pytest.fixture(scope="session", autouse=True)
def _quiet_jsii() -> Iterator[None]:
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    os.environ.setdefault("CHECKPOINT_DISABLE", "1")
    yield


def _synth_app(outdir: Path, environ: Mapping[str, str]) -> Synth:
    main.build_app(environ=environ, outdir=str(outdir)).synth()
    return Synth(outdir=outdir, stacks=read_stacks(outdir))


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """The app exactly as main.py wires it, with no endpoint variable set."""
    return _synth_app(tmp_path_factory.mktemp("synth"), BASE_ENVIRON)


@pytest.fixture(scope="session")
def synth_other_endpoint(tmp_path_factory: pytest.TempPathFactory, synth: Synth) -> Synth:
    """The same app with AWS_ENDPOINT_URL pointing elsewhere (a moto on another port)."""
    del synth  # synthesize after the base app, so the provider mode is already chosen
    return _synth_app(
        tmp_path_factory.mktemp("synth-endpoint"), {main.ENDPOINT_VAR: OTHER_ENDPOINT}
    )


def _qa_function(config: FunctionConfig) -> FunctionConfig:
    if config.name == "api":
        # A new function in an adopting environment, with every setting of its own.
        return replace(
            config,
            extra_layers=(EXTRA_LAYER,),
            alarm_names=(QA_ALARM,),
            dead_letter_target_arn=QA_DLQ,
            vpc=QA_VPC,
            reserved_concurrency=50,
            ephemeral_storage_mb=1024,
            tags={"Component": "api"},
            log_retention_days=90,
            adopt=ADOPT_NOTHING,
            triggers=(
                InvokePermission(
                    principal="apigateway.amazonaws.com",
                    statement_id="AllowQaApi",
                    source_arn=QA_API_SOURCE,
                ),
            ),
        )
    if config.name == "cleanup":
        # An existing role by ARN, a log group managed elsewhere, a new schedule.
        return replace(
            config,
            existing_log_group=QA_LOG_GROUP,
            role=ExistingRole(role=QA_ROLE_ARN),
            triggers=(ScheduleTrigger(expression="rate(1 day)"),),
        )
    if config.name == "db-sync":
        # A real name off the pattern; a role whose managed policies already give the ENI
        # permissions; the role is not adopted.
        return replace(
            config,
            function_name="qa_db_sync",
            vpc=QA_VPC,
            tracing="PassThrough",
            role=CreatedRole(
                managed_policy_arns=(VPC_ACCESS,),
                statements=(
                    PolicyStatement(
                        sid="Dumps", actions=("s3:PutObject",), resources=("arn:aws:s3:::qa/*",)
                    ),
                ),
            ),
            adopt=Adopt(role=False),
        )
    # The worker: a new queue trigger with a batching window; its alias already exists.
    return replace(
        config,
        triggers=(SqsTrigger(queue_arn=QA_QUEUE, batch_size=100, batching_window_s=5),),
        adopt=Adopt(alias=True),
    )


def configured_environment() -> Environment:
    """An environment using what the catalog's do not (yet): remote state, a CI role, an
    extra layer, an alias name, every function option and per-function adoption; it
    exercises the stack's other branches. Built on the design's four functions (local's),
    as a real (not local) environment with tracing on."""
    base = ENVIRONMENTS["local"]
    functions = tuple(
        replace(f, tracing="Active", environment={"ENVIRONMENT": "qa", "LOG_LEVEL": "DEBUG"})
        for f in base.functions
    )
    return replace(
        base,
        name="qa",
        endpoint_url=None,
        artifact_bucket="",
        functions=tuple(_qa_function(f) for f in functions),
        alias_name="current",
        adopt=True,
        tags={"Team": "platform"},
        provider_version="~> 6.25",
        ci_role_name="github-actions-deployer",
        state_backend=StateBackend(
            bucket="bluemoxon-terraform-state", key="lambda-layers/qa.tfstate", region="us-west-2"
        ),
    )


@pytest.fixture(scope="session")
def configured_stack(tmp_path_factory: pytest.TempPathFactory, synth: Synth) -> Json:
    del synth
    outdir = tmp_path_factory.mktemp("synth-configured")
    app = App(outdir=str(outdir))
    LambdaLayersStack(app, "qa", environment=configured_environment())
    app.synth()
    return read_stacks(outdir)["qa"]


def one_function(name: str = "api") -> FunctionConfig:
    return FunctionConfig(name=name, handler="app.main.handler")
