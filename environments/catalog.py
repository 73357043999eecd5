"""The environments themselves: the design's four functions in staging, prod and local."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType

from environments.model import Environment, FunctionConfig, StateBackend


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
    functions = default_functions()
    staging = Environment(
        name="staging",
        state_backend=_state_backend("staging"),
        ci_role_name="bluemoxon-staging-github-deploy",
        functions=tuple(
            replace(f, environment={"ENVIRONMENT": "staging", "LOG_LEVEL": "DEBUG"})
            for f in functions
        ),
    )
    prod = Environment(
        name="prod",
        state_backend=_state_backend("prod"),
        ci_role_name="bluemoxon-prod-github-deploy",
        functions=tuple(
            replace(f, environment={"ENVIRONMENT": "prod", "LOG_LEVEL": "INFO"}) for f in functions
        ),
    )
    local = Environment(
        name="local",
        functions=tuple(
            replace(f, environment={"ENVIRONMENT": "local", "LOG_LEVEL": "DEBUG"})
            for f in functions
        ),
        endpoint_url=LOCAL_ENDPOINT_DEFAULT,
        # The offline mirror holds hashicorp/aws 5.100.x; the bindings are generated for 6.x
        # but every attribute we set exists in both.
        provider_version=">= 5.100.0",
    )
    return {env.name: env for env in (staging, prod, local)}


ENVIRONMENTS: Mapping[str, Environment] = MappingProxyType(_environments())


def get_environment(name: str, *, endpoint_url: str | None = None) -> Environment:
    """Look an environment up by name; `endpoint_url` re-points a local one (moto's port)."""
    try:
        env = ENVIRONMENTS[name]
    except KeyError:
        raise ValueError(
            f"environment: unknown {name!r}; allowed: {', '.join(sorted(ENVIRONMENTS))}"
        ) from None
    if endpoint_url is not None and env.is_local:
        env = replace(env, endpoint_url=endpoint_url)
    return env
