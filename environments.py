"""Per-environment settings shared by the CDKTF app and the build/deploy scripts.

Both sides read this module, so it imports nothing of ours and nothing of cdktf: the
scripts must stay fast to start, and a setting changed here reaches Terraform and the
deploy tooling at once instead of drifting between two copies.

Every class is frozen and validated on construction, so a bad value fails where it is
written with a message that names the field and what is allowed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType

REPO_ROOT = Path(__file__).resolve().parent

# Lambda's managed Python runtimes that accept layers under /opt/python.
SUPPORTED_RUNTIMES = ("python3.10", "python3.11", "python3.12", "python3.13")
SUPPORTED_ARCHITECTURES = ("x86_64", "arm64")
# Lambda's own limit: a function may reference at most five layers.
MAX_LAYERS = 5
MIN_MEMORY_MB = 128
MAX_MEMORY_MB = 10240
MAX_TIMEOUT_S = 900
# Lambda function names: letters, digits, hyphens, underscores; 64 characters at most.
_FUNCTION_NAME = re.compile(r"^[a-z][a-z0-9-]*$")
_ENV_NAME = re.compile(r"^[a-z][a-z0-9-]*$")
_LAYER_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:\d{12}:layer:[A-Za-z0-9_-]+:\d+$")
_HANDLER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")


def _choice(field_name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{field_name}: got {value!r}; allowed: {', '.join(allowed)}")


@dataclass(frozen=True, kw_only=True)
class FunctionConfig:
    """One Lambda function that runs the shared backend package with its own entry point."""

    name: str
    handler: str
    description: str = ""
    memory_mb: int = 512
    timeout_s: int = 30
    environment: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # Layers besides this environment's deps layer (for example a vendor extension).
    extra_layers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not _FUNCTION_NAME.match(self.name):
            raise ValueError(
                f"functions.name: got {self.name!r}; use lowercase letters, digits and hyphens"
            )
        if not _HANDLER.match(self.handler):
            raise ValueError(
                f"functions[{self.name}].handler: got {self.handler!r}; use module.path.function"
            )
        if not MIN_MEMORY_MB <= self.memory_mb <= MAX_MEMORY_MB:
            raise ValueError(
                f"functions[{self.name}].memory_mb: got {self.memory_mb}; "
                f"allowed: {MIN_MEMORY_MB}-{MAX_MEMORY_MB}"
            )
        if not 1 <= self.timeout_s <= MAX_TIMEOUT_S:
            raise ValueError(
                f"functions[{self.name}].timeout_s: got {self.timeout_s}; "
                f"allowed: 1-{MAX_TIMEOUT_S}"
            )
        # The deps layer always takes one of Lambda's five slots.
        if len(self.extra_layers) + 1 > MAX_LAYERS:
            raise ValueError(
                f"functions[{self.name}].layers: at most {MAX_LAYERS} "
                f"(the deps layer plus {MAX_LAYERS - 1} extra), got {len(self.extra_layers) + 1}"
            )
        for arn in self.extra_layers:
            if not _LAYER_ARN.match(arn):
                raise ValueError(
                    f"functions[{self.name}].extra_layers: {arn!r} is not a layer version ARN "
                    "(arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION)"
                )
        # Freeze the mapping so a shared default can never be mutated through one function.
        object.__setattr__(self, "environment", MappingProxyType(dict(self.environment)))


@dataclass(frozen=True, kw_only=True)
class StateBackend:
    """Remote Terraform state in S3; without one, the stack keeps local state."""

    bucket: str
    key: str
    region: str
    # S3-native locking (Terraform >= 1.10) needs no DynamoDB table.
    use_lockfile: bool = True
    dynamodb_table: str | None = None

    def __post_init__(self) -> None:
        if not self.bucket or not self.key:
            raise ValueError("state_backend: bucket and key are both required")


@dataclass(frozen=True, kw_only=True)
class Environment:
    """Everything one deployment target needs; names are derived, never repeated."""

    name: str
    region: str = "us-west-2"
    name_prefix: str = "bluemoxon"
    # Empty means the design's default, bluemoxon-frontend-{env}.
    artifact_bucket: str = ""
    key_prefix: str = "lambda/"
    runtime: str = "python3.12"
    architecture: str = "x86_64"
    backend_dir: Path = REPO_ROOT / "examples" / "backend"
    lock_file: Path | None = None
    requirements_file: Path | None = None
    state_backend: StateBackend | None = None
    ci_role_name: str | None = None
    functions: tuple[FunctionConfig, ...] = ()
    # Local (moto) targets only: the endpoint Terraform and the scripts talk to, and the
    # provider constraint the offline mirror can satisfy.
    endpoint_url: str | None = None
    provider_version: str | None = None

    def __post_init__(self) -> None:
        if not _ENV_NAME.match(self.name):
            raise ValueError(
                f"environment.name: got {self.name!r}; use lowercase letters, digits and hyphens"
            )
        _choice("runtime", self.runtime, SUPPORTED_RUNTIMES)
        _choice("architecture", self.architecture, SUPPORTED_ARCHITECTURES)
        if not self.key_prefix.endswith("/") or self.key_prefix.startswith("/"):
            raise ValueError(
                f"key_prefix: got {self.key_prefix!r}; use a relative prefix ending in '/'"
            )
        if not self.functions:
            raise ValueError(f"{self.name}.functions: at least one function is required")
        names = [f.name for f in self.functions]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"{self.name}.functions: duplicate names {', '.join(duplicates)}")
        too_long = [n for n in names if len(self.function_name(n)) > 64]
        if too_long:
            raise ValueError(
                f"{self.name}.functions: {', '.join(too_long)} make names over 64 characters"
            )
        if not self.artifact_bucket:
            object.__setattr__(self, "artifact_bucket", f"{self.name_prefix}-frontend-{self.name}")
        if self.lock_file is None:
            object.__setattr__(self, "lock_file", self.backend_dir / "poetry.lock")
        if self.requirements_file is None:
            object.__setattr__(self, "requirements_file", self.backend_dir / "requirements.txt")

    # Derived names: one definition each, used by Terraform and the scripts alike.
    @property
    def layer_name(self) -> str:
        return f"{self.name_prefix}-{self.name}-deps"

    def function_name(self, short_name: str) -> str:
        return f"{self.name_prefix}-{self.name}-{short_name}"

    @property
    def function_names(self) -> tuple[str, ...]:
        return tuple(self.function_name(f.name) for f in self.functions)

    @property
    def layer_key(self) -> str:
        """The mutable key Terraform's first layer version reads (the design's layer.zip)."""
        return f"{self.key_prefix}layer.zip"

    def layer_hash_key(self, lock_hash: str) -> str:
        return f"{self.key_prefix}layer-{lock_hash}.zip"

    @property
    def backend_key(self) -> str:
        return f"{self.key_prefix}backend.zip"

    def backend_hash_key(self, content_hash: str) -> str:
        return f"{self.key_prefix}backend-{content_hash}.zip"

    @property
    def deployments_prefix(self) -> str:
        return f"{self.key_prefix}deployments/{self.name}/"

    @property
    def is_local(self) -> bool:
        return self.endpoint_url is not None


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
