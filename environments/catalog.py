"""The environments themselves: the design's four functions in staging, prod and local, and
`legacy`, an example of an existing system described for adoption (README, "Migrating an
existing system")."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType

from environments.adoption import Adopt
from environments.errors import ConfigError
from environments.function import FunctionConfig
from environments.model import Environment, StateBackend
from environments.network import VpcConfig
from environments.roles import CreatedRole, ExistingRole, PolicyStatement
from environments.triggers import InvokePermission, ScheduleTrigger, SqsTrigger


def default_functions() -> tuple[FunctionConfig, ...]:
    """The design's four functions: one backend package, four entry points."""
    return (
        FunctionConfig(
            name="api",
            handler="app.main.handler",
            description="HTTP API",
            memory_mb=1024,
            timeout_s=30,
        ),
        FunctionConfig(
            name="cleanup",
            handler="lambdas.cleanup.handler.handler",
            description="Removes stale records and orphaned images",
            memory_mb=512,
            timeout_s=300,
        ),
        FunctionConfig(
            name="db-sync",
            handler="lambdas.db_sync.handler.handler",
            description="Synchronises the database between environments",
            memory_mb=512,
            timeout_s=600,
        ),
        FunctionConfig(
            name="eval-runbook-worker",
            handler="lambdas.eval_runbook_worker.handler.handler",
            description="Runs evaluation runbooks from the queue",
            memory_mb=1024,
            timeout_s=900,
        ),
    )


LOCAL_ENDPOINT_DEFAULT = "http://127.0.0.1:5000"


def _state_backend(env_name: str) -> StateBackend:
    """Shared remote state: CI runners are ephemeral, so local state would be lost each run."""
    return StateBackend(
        bucket="bluemoxon-terraform-state",
        key=f"lambda-layers/{env_name}.tfstate",
        region="us-west-2",
    )


def _environments() -> dict[str, Environment]:
    # Staging and prod run their functions with X-Ray tracing on; a role the stack creates
    # gets the X-Ray write policy with it.
    functions = default_functions()
    staging = Environment(
        name="staging",
        state_backend=_state_backend("staging"),
        ci_role_name="bluemoxon-staging-github-deploy",
        functions=tuple(
            replace(
                f, environment={"ENVIRONMENT": "staging", "LOG_LEVEL": "DEBUG"}, tracing="Active"
            )
            for f in functions
        ),
    )
    prod = Environment(
        name="prod",
        state_backend=_state_backend("prod"),
        ci_role_name="bluemoxon-prod-github-deploy",
        functions=tuple(
            replace(f, environment={"ENVIRONMENT": "prod", "LOG_LEVEL": "INFO"}, tracing="Active")
            for f in functions
        ),
    )
    local = Environment(
        name="local",
        functions=tuple(
            # PassThrough: moto has no X-Ray, and Active would attach AWS's managed X-Ray
            # policy, which moto only knows when told to load managed policies.
            replace(
                f, environment={"ENVIRONMENT": "local", "LOG_LEVEL": "DEBUG"}, tracing="PassThrough"
            )
            for f in functions
        ),
        endpoint_url=LOCAL_ENDPOINT_DEFAULT,
        # The offline mirror holds hashicorp/aws 5.100.x; the bindings are generated for 6.x
        # but every attribute we set exists in both.
        provider_version=">= 5.100.0",
    )
    return {env.name: env for env in (staging, prod, local, legacy_environment())}


# ---- legacy: an existing system, described for adoption -------------------------------
# The system of tests/e2e/legacy_world (plain Terraform, the design's original modules):
# fat-package functions in a VPC with X-Ray on, Secrets Manager and S3 permissions, an
# SQS-triggered worker whose queue has a dead-letter queue, a nightly cleanup, and API
# Gateway invoking the API through its `live` alias. moto's default account.
_ACCOUNT = "123456789012"
_REGION = "us-west-2"
_LEGACY = "bluemoxon-legacy"
_SECRET = f"arn:aws:secretsmanager:{_REGION}:{_ACCOUNT}:secret:{_LEGACY}-db-AbCdEf"
_IMAGES = f"arn:aws:s3:::{_LEGACY}-images"
_DLQ = f"arn:aws:sqs:{_REGION}:{_ACCOUNT}:{_LEGACY}-dlq"
# What AWS generated when the legacy system was built. A real account's ids never change;
# moto makes new ones on every start, so tests/e2e passes the world's own through
# `legacy_environment(...)`. These are examples of the same shape.
LEGACY_EXAMPLE_NETWORK = VpcConfig(
    subnet_ids=("subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"),
    security_group_ids=("sg-0a1b2c3d4e5f60003",),
)
LEGACY_EXAMPLE_MAPPING_UUID = "6f1d2c3b-4a59-4e8d-9c7b-a1b2c3d4e5f6"


def legacy_environment(
    *,
    network: VpcConfig = LEGACY_EXAMPLE_NETWORK,
    runbooks_mapping_uuid: str = LEGACY_EXAMPLE_MAPPING_UUID,
    endpoint_url: str = LOCAL_ENDPOINT_DEFAULT,
) -> Environment:
    """The legacy system as it runs, so adopting it changes nothing it relies on."""
    base = {f.name: f for f in default_functions()}
    shared_role = ExistingRole(role=f"{_LEGACY}-lambda-exec")
    variables = {
        "ENVIRONMENT": "legacy",
        "LOG_LEVEL": "INFO",
        "DATABASE_SECRET_ARN": _SECRET,
        "IMAGES_BUCKET": f"{_LEGACY}-images",
    }

    def existing(name: str) -> FunctionConfig:
        """What every legacy function has; each adds its own below."""
        return replace(
            base[name],
            environment=variables,
            vpc=network,
            tags={"Component": name},
            role=shared_role,
            tracing="Active",
        )

    cleanup_role = CreatedRole(
        name=f"{_LEGACY}-cleanup-exec",
        managed_policy_arns=(
            "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
            "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess",
        ),
        policy_name=f"{_LEGACY}-cleanup-access",
        statements=(
            PolicyStatement(
                sid="DatabaseSecret",
                actions=("secretsmanager:GetSecretValue",),
                resources=(_SECRET,),
            ),
            PolicyStatement(
                sid="OrphanedImages",
                actions=("s3:ListBucket", "s3:DeleteObject"),
                resources=(_IMAGES, f"{_IMAGES}/*"),
            ),
            PolicyStatement(sid="DeadLetters", actions=("sqs:SendMessage",), resources=(_DLQ,)),
        ),
    )
    functions = (
        replace(
            existing("api"),
            memory_mb=512,
            timeout_s=600,
            # API Gateway already invokes the `live` alias: it exists, with its permission.
            adopt=Adopt(alias=True),
            triggers=(
                InvokePermission(
                    principal="apigateway.amazonaws.com",
                    statement_id="AllowAPIGatewayInvoke",
                    source_arn=f"arn:aws:execute-api:{_REGION}:{_ACCOUNT}:legacyapi01/*/*",
                    exists=True,
                ),
            ),
        ),
        replace(
            existing("cleanup"),
            role=cleanup_role,
            triggers=(
                ScheduleTrigger(
                    expression="cron(0 3 * * ? *)",
                    rule_name=f"{_LEGACY}-cleanup-schedule",
                    description="Nightly cleanup",
                    target_id="cleanup",
                    exists=True,
                ),
            ),
        ),
        replace(existing("db-sync"), tracing="PassThrough", ephemeral_storage_mb=2048),
        replace(
            existing("eval-runbook-worker"),
            # Named before the naming scheme: the real name, not bluemoxon-legacy-eval-...
            function_name=f"{_LEGACY}-runbook-worker",
            reserved_concurrency=5,
            triggers=(
                SqsTrigger(
                    queue_arn=f"arn:aws:sqs:{_REGION}:{_ACCOUNT}:{_LEGACY}-eval-runbooks",
                    batch_size=10,
                    existing_uuid=runbooks_mapping_uuid,
                ),
            ),
        ),
    )
    return Environment(
        name="legacy",
        functions=functions,
        endpoint_url=endpoint_url,
        # The legacy state and the offline mirror are hashicorp/aws 5.100.
        provider_version="~> 5.100",
        adopt=True,
        tags={"Project": "bluemoxon", "Environment": "legacy"},
        log_retention_days=14,
        ci_role_name=f"{_LEGACY}-github-deploy",
        legacy_deployer_policy=f"{_LEGACY}-lambda-deploy-manual",
    )


ENVIRONMENTS: Mapping[str, Environment] = MappingProxyType(_environments())


def get_environment(name: str, *, endpoint_url: str | None = None) -> Environment:
    """Look an environment up by name; `endpoint_url` re-points a local one (moto's port)."""
    try:
        env = ENVIRONMENTS[name]
    except KeyError:
        raise ConfigError(
            f"environment: unknown {name!r}; allowed: {', '.join(sorted(ENVIRONMENTS))}"
        ) from None
    if endpoint_url is not None and env.is_local:
        env = replace(env, endpoint_url=endpoint_url)
    return env
