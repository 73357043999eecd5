"""The configuration's types: the state backend and one environment (functions: function.py).

Frozen and validated on construction, so a bad value fails where it is written with a
message that names the field and what is allowed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from environments.adoption import ADOPT_ALL_BUT_ALIAS, ADOPT_NOTHING, Adopt
from environments.checks import Hook
from environments.errors import ConfigError
from environments.function import LOG_RETENTION_DAYS, FunctionConfig, check_tags
from environments.packaging import BackendSpec, detect_lock_file
from environments.roles import CreatedRole
from environments.triggers import ScheduleTrigger

REPO_ROOT = Path(__file__).resolve().parents[1]

# Lambda's managed Python runtimes that accept layers under /opt/python.
SUPPORTED_RUNTIMES = ("python3.10", "python3.11", "python3.12", "python3.13")
SUPPORTED_ARCHITECTURES = ("x86_64", "arm64")
_ENV_NAME = re.compile(r"^[a-z][a-z0-9-]*$")
# An alias name Lambda accepts: not a version number, not $LATEST.
_ALIAS_NAME = re.compile(r"^(?!\d+$)[A-Za-z0-9_-]{1,128}$")
_FUNCTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_LAYER_NAME = re.compile(r"^[A-Za-z0-9_-]{1,140}$")
_POLICY = re.compile(r"^([\w+=,.@-]{1,128}|arn:aws[a-z-]*:iam::\d{12}:policy/[\w+=,.@/-]+)$")
# The hashicorp/aws release the provider bindings were generated for: the default constraint.
AWS_PROVIDER_BINDINGS_VERSION = "6.25.0"


def _choice(field_name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"{field_name}: got {value!r}; allowed: {', '.join(allowed)}")


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
            raise ConfigError("state_backend: bucket and key are both required")


@dataclass(frozen=True, kw_only=True)
class UnmanagedFunction:
    """A function under the prefix that the stack knows and leaves alone (a container
    image, say): never synthesized, skipped by releases, listed by status as unmanaged."""

    name: str
    reason: str

    def __post_init__(self) -> None:
        if not _FUNCTION_NAME.match(self.name):
            raise ConfigError(
                f"unmanaged_functions.name: got {self.name!r}; the function's real name"
            )
        if not self.reason.strip():
            raise ConfigError(
                f"unmanaged_functions[{self.name}].reason: empty; say why (e.g. container image)"
            )


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
    # The alias every trigger invokes and every release moves.
    alias_name: str = "live"
    # Adoption: import what the functions say exists instead of creating it (adoption.py).
    adopt: bool = False
    # On every function, log group, created role and schedule rule (plus each function's).
    tags: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    log_retention_days: int = 30
    # The hand-made deployer IAM policy (name or ARN) the migration's last phase retires.
    legacy_deployer_policy: str | None = None
    # The hashicorp/aws constraint; a state written by 5.x may say "~> 5.100".
    provider_version: str = AWS_PROVIDER_BINDINGS_VERSION
    # Local (moto) targets only: the endpoint Terraform and the scripts talk to.
    endpoint_url: str | None = None
    # The AWS account the environment lives in (12 digits): commands that build or release
    # refuse credentials of another account before doing anything. None: not checked.
    account_id: str | None = None
    # The lock format, layer bytecode and function package shape (environments/packaging.py).
    backend: BackendSpec = field(default_factory=BackendSpec)
    unmanaged_functions: tuple[UnmanagedFunction, ...] = ()
    # Layer names whose versions on a function are the deps layer under another name (a
    # workflow published it so): releases and adoption replace it with ours, never add a
    # second copy of every dependency next to it.
    foreign_deps_layers: tuple[str, ...] = ()
    # The provider's default_tags: on every resource the stack manages that takes tags.
    default_tags: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # Run in order on the NEW versions after prepare, before any alias moves (a database
    # migration is one); a failing answer means nothing is switched.
    hooks: tuple[Hook, ...] = ()

    def __post_init__(self) -> None:
        if self.account_id is not None and not re.fullmatch(r"\d{12}", self.account_id):
            raise ConfigError(
                f"environment.account_id: got {self.account_id!r}; use the 12-digit account id"
            )
        if not _ENV_NAME.match(self.name):
            raise ConfigError(
                f"environment.name: got {self.name!r}; use lowercase letters, digits and hyphens"
            )
        _choice("runtime", self.runtime, SUPPORTED_RUNTIMES)
        _choice("architecture", self.architecture, SUPPORTED_ARCHITECTURES)
        if not self.key_prefix.endswith("/") or self.key_prefix.startswith("/"):
            raise ConfigError(
                f"key_prefix: got {self.key_prefix!r}; use a relative prefix ending in '/'"
            )
        if not self.functions:
            raise ConfigError(f"{self.name}.functions: at least one function is required")
        names = [f.name for f in self.functions]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ConfigError(f"{self.name}.functions: duplicate names {', '.join(duplicates)}")
        too_long = [n for n in names if len(self.function_name(n)) > 64]
        if too_long:
            raise ConfigError(
                f"{self.name}.functions: {', '.join(too_long)} make names over 64 characters"
            )
        self._check_migration_settings()
        object.__setattr__(
            self,
            "hooks",
            tuple(
                hook.checked(f"{self.name}.hooks[{i}]", tuple(names))
                for i, hook in enumerate(self.hooks)
            ),
        )
        if not self.artifact_bucket:
            object.__setattr__(self, "artifact_bucket", f"{self.name_prefix}-frontend-{self.name}")
        if self.lock_file is None:
            object.__setattr__(self, "lock_file", detect_lock_file(self.backend_dir))

    def _check_migration_settings(self) -> None:
        if not _ALIAS_NAME.match(self.alias_name):
            raise ConfigError(
                f"{self.name}.alias_name: got {self.alias_name!r}; use letters, digits, '-', '_' "
                "(not only digits: those are versions)"
            )
        check_tags(f"{self.name}.tags", self.tags)
        object.__setattr__(self, "tags", MappingProxyType(dict(self.tags)))
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            raise ConfigError(
                f"{self.name}.log_retention_days: got {self.log_retention_days}; "
                f"allowed: {', '.join(map(str, LOG_RETENTION_DAYS))}"
            )
        policy = self.legacy_deployer_policy
        if policy is not None and not _POLICY.match(policy):
            raise ConfigError(f"{self.name}.legacy_deployer_policy: got {policy!r}; a name or ARN")
        if not self.provider_version.strip():
            raise ConfigError(f"{self.name}.provider_version: empty; e.g. '~> 5.100' or '6.25.0'")
        real = [self.function_name(f.name) for f in self.functions]
        if len(set(real)) != len(real):
            raise ConfigError(f"{self.name}.functions: two functions named alike in {real}")
        for config in self.functions:
            role = config.role
            if (
                isinstance(role, CreatedRole)
                and len(role.role_name(self.function_name(config.name))) > 64
            ):
                raise ConfigError(
                    f"{self.name}.functions[{config.name}].role.name: the default "
                    f"{role.role_name(self.function_name(config.name))!r} is over 64 characters; "
                    "give a shorter one"
                )
        self._check_estate_settings(real)
        rules = [
            t.rule(self.function_name(f.name))
            for f in self.functions
            for t in f.triggers
            if isinstance(t, ScheduleTrigger)
        ]
        if len(set(rules)) != len(rules):
            raise ConfigError(f"{self.name}.functions: two schedules share a rule name in {rules}")

    def _check_estate_settings(self, managed: list[str]) -> None:
        check_tags(f"{self.name}.default_tags", self.default_tags)
        object.__setattr__(self, "default_tags", MappingProxyType(dict(self.default_tags)))
        unmanaged = [u.name for u in self.unmanaged_functions]
        if len(set(unmanaged)) != len(unmanaged):
            raise ConfigError(f"{self.name}.unmanaged_functions: a name is listed twice")
        both = sorted(set(unmanaged) & set(managed))
        if both:
            raise ConfigError(
                f"{self.name}.unmanaged_functions: {', '.join(both)} is also in functions; "
                "keep it in one list"
            )
        for config in self.functions:
            if config.package == "own" and not self.adoption(config).function:
                raise ConfigError(
                    f"{self.name}.functions[{config.name}].package: 'own' describes a function "
                    "that exists with its own zip; set adopt = true (the stack would create "
                    "it from the shared package)"
                )
        for layer in self.foreign_deps_layers:
            if not _LAYER_NAME.match(layer) or layer == self.layer_name:
                raise ConfigError(
                    f"{self.name}.foreign_deps_layers: got {layer!r}; a layer name (not the "
                    f"version ARN) other than this environment's own {self.layer_name!r}"
                )

    # Derived names: one definition each, used by Terraform and the scripts alike.
    @property
    def layer_name(self) -> str:
        return f"{self.name_prefix}-{self.name}-deps"

    @property
    def deps_layer_names(self) -> tuple[str, ...]:
        """Every name a function's deps layer may carry: ours, then foreign_deps_layers."""
        return (self.layer_name, *self.foreign_deps_layers)

    def function(self, short_name: str) -> FunctionConfig:
        for config in self.functions:
            if config.name == short_name:
                return config
        raise KeyError(f"{self.name}: no function {short_name!r}")

    def function_name(self, short_name: str) -> str:
        """The Lambda name: the configured real name, else `{prefix}-{env}-{short}`."""
        for config in self.functions:
            if config.name == short_name and config.function_name:
                return config.function_name
        return f"{self.name_prefix}-{self.name}-{short_name}"

    def adoption(self, config: FunctionConfig) -> Adopt:
        """What of `config`'s resources to import: nothing unless this environment adopts."""
        if not self.adopt:
            return ADOPT_NOTHING
        return config.adopt if config.adopt is not None else ADOPT_ALL_BUT_ALIAS

    def function_tags(self, config: FunctionConfig) -> dict[str, str]:
        return {**self.tags, **config.tags}

    def log_retention(self, config: FunctionConfig) -> int:
        if config.log_retention_days is not None:
            return config.log_retention_days
        return self.log_retention_days

    @property
    def function_names(self) -> tuple[str, ...]:
        return tuple(self.function_name(f.name) for f in self.functions)

    @property
    def released_functions(self) -> tuple[FunctionConfig, ...]:
        """What a release moves: the shared package's functions. One with its own package
        (`package = "own"`) keeps its code and layers; the stack manages only its settings."""
        return tuple(f for f in self.functions if f.package == "shared")

    @property
    def released_function_names(self) -> tuple[str, ...]:
        return tuple(self.function_name(f.name) for f in self.released_functions)

    @property
    def is_local(self) -> bool:
        return self.endpoint_url is not None
