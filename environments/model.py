"""The configuration's types: one function, the state backend, one environment.

Frozen and validated on construction, so a bad value fails where it is written with a
message that names the field and what is allowed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from environments.backend import BackendSpec, detect_lock_file

REPO_ROOT = Path(__file__).resolve().parents[1]

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
    # CloudWatch alarms a canary release watches; none: the canary only waits.
    alarm_names: tuple[str, ...] = ()

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
    # None: poetry.lock, uv.lock or requirements.txt in backend_dir, the first that exists.
    lock_file: Path | None = None
    # Optional second source (an exported requirements file): when set, the build refuses
    # to run if its pins disagree with the lock. None: the lock alone.
    requirements_file: Path | None = None
    state_backend: StateBackend | None = None
    ci_role_name: str | None = None
    functions: tuple[FunctionConfig, ...] = ()
    # Local (moto) targets only: the endpoint Terraform and the scripts talk to, and the
    # provider constraint the offline mirror can satisfy.
    endpoint_url: str | None = None
    provider_version: str | None = None
    # The alias callers invoke; deploy moves it, Terraform creates it.
    alias_name: str = "live"
    # The lock format, layer bytecode and function package shape (environments/backend.py).
    backend: BackendSpec = field(default_factory=BackendSpec)

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
            object.__setattr__(self, "lock_file", detect_lock_file(self.backend_dir))

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
    def is_local(self) -> bool:
        return self.endpoint_url is not None
