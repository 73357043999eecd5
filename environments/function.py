"""One Lambda function: its entry point and sizing, and everything an existing one already has.

A function the migration adopts keeps its configuration, so every setting it has in AWS is
said here (role, VPC, tracing, concurrency, storage, dead-letter target, tags, log group,
triggers); a setting left out is one the stack does not manage, or its default.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from environments.adoption import Adopt
from environments.callers import AsyncInvoke, ExternalCaller
from environments.checks import SmokeCheck
from environments.errors import ConfigError
from environments.intended import INTENDED_CHANGES
from environments.network import VpcConfig
from environments.roles import CreatedRole, Role
from environments.triggers import Trigger, statement_ids

# Lambda's own limit: a function may reference at most five layers.
MAX_LAYERS = 5
MIN_MEMORY_MB = 128
MAX_MEMORY_MB = 10240
MAX_TIMEOUT_S = 900
MIN_EPHEMERAL_MB = 512
MAX_EPHEMERAL_MB = 10240
TRACING_MODES = ("Active", "PassThrough")
# CloudWatch Logs accepts only these retention periods (0: never expire).
LOG_RETENTION_DAYS = (
    *(0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096),
    *(1827, 2192, 2557, 2922, 3288, 3653),
)
MAX_TAGS = 50

_SHORT_NAME = re.compile(r"^[a-z][a-z0-9-]*$")
_FUNCTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_LAYER_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:\d{12}:layer:[A-Za-z0-9_-]+:\d+$")
_HANDLER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")
_DLQ_ARN = re.compile(r"^arn:aws[a-z-]*:(sqs|sns):[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]+$")
_LOG_GROUP = re.compile(r"^[\w#/.-]{1,512}$")
# "shared": the backend package and the deps layer; "own": a zip of its own and no deps
# layer (the stack adopts its configuration; releases leave its code and layers alone).
PACKAGES = ("shared", "own")


def _frozen(mapping: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(mapping))


def check_tags(where: str, tags: Mapping[str, str]) -> None:
    if len(tags) > MAX_TAGS:
        raise ConfigError(f"{where}: at most {MAX_TAGS} tags, got {len(tags)}")
    for key, value in tags.items():
        if not key or len(key) > 128 or key.startswith("aws:") or len(value) > 256:
            raise ConfigError(
                f"{where}: {key!r}={value!r}; keys 1-128 characters (not aws:), values up to 256"
            )


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
    # The function's real name when it does not follow `{prefix}-{env}-{name}`.
    function_name: str = ""
    role: Role = field(default_factory=CreatedRole)
    vpc: VpcConfig | None = None
    # None leaves tracing unmanaged (Lambda's default, PassThrough, for a new function).
    tracing: str | None = None
    reserved_concurrency: int | None = None
    ephemeral_storage_mb: int | None = None
    # An SQS queue or SNS topic for failed asynchronous invocations.
    dead_letter_target_arn: str | None = None
    # Added to the environment's tags on the function, its log group and a created role.
    tags: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # None means the environment's `log_retention_days`.
    log_retention_days: int | None = None
    # A log group managed elsewhere: the stack neither creates nor imports one, and points
    # the function (logging_config) and a created role's log permission at this one.
    existing_log_group: str | None = None
    triggers: tuple[Trigger, ...] = ()
    # None: everything but the alias exists while the environment adopts.
    adopt: Adopt | None = None
    # What this configuration means to change that plan-check would otherwise refuse:
    # words of environments.intended.INTENDED_CHANGES (protected attributes, risky changes).
    intended_changes: tuple[str, ...] = ()
    # CloudWatch alarms a canary release of this function watches; none means it only waits.
    alarm_names: tuple[str, ...] = ()
    package: Literal["shared", "own"] = "shared"
    # On the alias (aws_lambda_provisioned_concurrency_config); None: none provisioned.
    provisioned_concurrency: int | None = None
    async_invoke: AsyncInvoke | None = None
    # Callers another Terraform root owns (callers.py): recorded, never synthesized.
    external_callers: tuple[ExternalCaller, ...] = ()
    # Invoked through the alias after a release switched it (the new version before a
    # canary moves traffic); a failing answer switches every alias back.
    smoke: SmokeCheck | None = None

    def __post_init__(self) -> None:
        where = f"functions[{self.name}]"
        if not _SHORT_NAME.match(self.name):
            raise ConfigError(
                f"functions.name: got {self.name!r}; use lowercase letters, digits and hyphens"
            )
        if not _HANDLER.match(self.handler):
            raise ConfigError(f"{where}.handler: got {self.handler!r}; use module.path.function")
        if not MIN_MEMORY_MB <= self.memory_mb <= MAX_MEMORY_MB:
            raise ConfigError(
                f"{where}.memory_mb: got {self.memory_mb}; allowed: {MIN_MEMORY_MB}-{MAX_MEMORY_MB}"
            )
        if not 1 <= self.timeout_s <= MAX_TIMEOUT_S:
            raise ConfigError(
                f"{where}.timeout_s: got {self.timeout_s}; allowed: 1-{MAX_TIMEOUT_S}"
            )
        # The deps layer always takes one of Lambda's five slots.
        if len(self.extra_layers) + 1 > MAX_LAYERS:
            raise ConfigError(
                f"{where}.layers: at most {MAX_LAYERS} "
                f"(the deps layer plus {MAX_LAYERS - 1} extra), got {len(self.extra_layers) + 1}"
            )
        for arn in self.extra_layers:
            if not _LAYER_ARN.match(arn):
                raise ConfigError(
                    f"{where}.extra_layers: {arn!r} is not a layer version ARN "
                    "(arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION)"
                )
        self._check_existing_settings(where)
        if self.smoke is not None:
            object.__setattr__(self, "smoke", self.smoke.checked(f"{where}.smoke"))
        # Freeze the mappings so a shared default can never be mutated through one function.
        object.__setattr__(self, "environment", _frozen(self.environment))
        object.__setattr__(self, "tags", _frozen(self.tags))

    def _check_existing_settings(self, where: str) -> None:
        if self.function_name and not _FUNCTION_NAME.match(self.function_name):
            raise ConfigError(
                f"{where}.function_name: got {self.function_name!r}; "
                "use 1-64 of letters, digits, '-', '_'"
            )
        if self.tracing is not None and self.tracing not in TRACING_MODES:
            raise ConfigError(
                f"{where}.tracing: got {self.tracing!r}; allowed: {', '.join(TRACING_MODES)}"
            )
        if self.reserved_concurrency is not None and self.reserved_concurrency < 0:
            raise ConfigError(
                f"{where}.reserved_concurrency: got {self.reserved_concurrency}; use 0 or more "
                "(None leaves the function unreserved)"
            )
        storage = self.ephemeral_storage_mb
        if storage is not None and not MIN_EPHEMERAL_MB <= storage <= MAX_EPHEMERAL_MB:
            raise ConfigError(
                f"{where}.ephemeral_storage_mb: got {storage}; "
                f"allowed: {MIN_EPHEMERAL_MB}-{MAX_EPHEMERAL_MB}"
            )
        if self.dead_letter_target_arn is not None and not _DLQ_ARN.match(
            self.dead_letter_target_arn
        ):
            raise ConfigError(
                f"{where}.dead_letter_target_arn: got {self.dead_letter_target_arn!r}; "
                "use an SQS queue or SNS topic ARN"
            )
        check_tags(f"{where}.tags", self.tags)
        if (
            self.log_retention_days is not None
            and self.log_retention_days not in LOG_RETENTION_DAYS
        ):
            raise ConfigError(
                f"{where}.log_retention_days: got {self.log_retention_days}; "
                f"allowed: {', '.join(map(str, LOG_RETENTION_DAYS))}"
            )
        if self.existing_log_group is not None and not _LOG_GROUP.match(self.existing_log_group):
            raise ConfigError(f"{where}.existing_log_group: got {self.existing_log_group!r}")
        if self.existing_log_group is not None and self.log_retention_days is not None:
            raise ConfigError(
                f"{where}.log_retention_days: the existing log group is managed elsewhere; "
                "set its retention there"
            )
        unknown = sorted(set(self.intended_changes) - set(INTENDED_CHANGES))
        if unknown:
            raise ConfigError(
                f"{where}.intended_changes: {', '.join(unknown)} not protected; "
                f"allowed: {', '.join(INTENDED_CHANGES)}"
            )
        if len(set(self.alarm_names)) != len(self.alarm_names) or not all(self.alarm_names):
            raise ConfigError(f"{where}.alarm_names: names must be non-empty and distinct")
        ids = statement_ids(self.function_name or self.name, self.triggers)
        if len(set(ids)) != len(ids):
            raise ConfigError(f"{where}.triggers: duplicate permission statement ids {ids}")
        self._check_invocation(where)

    def _check_invocation(self, where: str) -> None:
        if self.package not in PACKAGES:
            raise ConfigError(f"{where}.package: got {self.package!r}; allowed: shared, own")
        provisioned = self.provisioned_concurrency
        if provisioned is not None and provisioned < 1:
            raise ConfigError(
                f"{where}.provisioned_concurrency: got {provisioned}; use 1 or more "
                "(leave it out for none)"
            )
        reserved = self.reserved_concurrency
        if provisioned is not None and reserved is not None and provisioned > reserved:
            raise ConfigError(
                f"{where}.provisioned_concurrency: {provisioned} exceeds reserved_concurrency "
                f"{reserved}; Lambda refuses it: lower it or raise the reservation"
            )
