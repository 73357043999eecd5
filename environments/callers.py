"""How a function is reached from outside our stack: callers another Terraform root owns,
and the settings of its asynchronous invocations.

An `ExternalCaller` synthesizes nothing: it is the record of who invokes the function
from a root or module we do not manage, so a release can say which callers it reaches
(an alias moves them; a caller of the unqualified function gets `$LATEST`) and migrate
can name the change to make in that root.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from environments.errors import ConfigError
from environments.triggers import CALLER_TARGETS, CallerTarget

ExternalCallerKind = Literal[
    "apigatewayv2-integration",
    "apigateway-integration",
    "function-url",
    "eventbridge-target",
    "lambda-invoke",
    "other",
]
EXTERNAL_CALLER_KINDS: tuple[str, ...] = (
    "apigatewayv2-integration",
    "apigateway-integration",
    "function-url",
    "eventbridge-target",
    "lambda-invoke",
    "other",
)
# Lambda's limits on an event invoke config.
MAX_ASYNC_RETRIES = 2
MIN_EVENT_AGE_S = 60
MAX_EVENT_AGE_S = 21600
# A destination: an SQS queue, SNS topic, Lambda function or EventBridge bus.
_DESTINATION = re.compile(r"^arn:aws[a-z-]*:(sqs|sns|lambda|events):[a-z0-9-]+:\d{12}:\S+$")


@dataclass(frozen=True, kw_only=True)
class ExternalCaller:
    """A caller owned by another Terraform root or module: known, never managed here."""

    kind: ExternalCallerKind
    # What identifies it there: an API id and integration id, a rule and target id, the
    # ARN of a role that invokes the function.
    id: str
    target: CallerTarget
    # Which root or module owns it (free text), so migrate can say where to change it.
    owner: str = ""

    def __post_init__(self) -> None:
        if self.kind not in EXTERNAL_CALLER_KINDS:
            raise ConfigError(
                f"external_callers.kind: got {self.kind!r}; "
                f"allowed: {', '.join(EXTERNAL_CALLER_KINDS)}"
            )
        if not self.id.strip():
            raise ConfigError(f"external_callers[{self.kind}].id: empty; name the caller")
        if self.target not in CALLER_TARGETS:
            raise ConfigError(
                f"external_callers[{self.id}].target: got {self.target!r}; "
                f"allowed: {', '.join(CALLER_TARGETS)}"
            )


@dataclass(frozen=True, kw_only=True)
class AsyncInvoke:
    """The function's event invoke config (aws_lambda_function_event_invoke_config) on the
    alias or function: retries, event age and destinations of asynchronous invocations.
    A field left None leaves Lambda's default (2 retries, 6 hours, no destination)."""

    maximum_retry_attempts: int | None = None
    maximum_event_age_s: int | None = None
    on_failure_arn: str | None = None
    on_success_arn: str | None = None

    def __post_init__(self) -> None:
        retries = self.maximum_retry_attempts
        if retries is not None and not 0 <= retries <= MAX_ASYNC_RETRIES:
            raise ConfigError(
                f"async_invoke.maximum_retry_attempts: got {retries}; "
                f"allowed: 0-{MAX_ASYNC_RETRIES}"
            )
        age = self.maximum_event_age_s
        if age is not None and not MIN_EVENT_AGE_S <= age <= MAX_EVENT_AGE_S:
            raise ConfigError(
                f"async_invoke.maximum_event_age_s: got {age}; "
                f"allowed: {MIN_EVENT_AGE_S}-{MAX_EVENT_AGE_S}"
            )
        for name, arn in (
            ("on_failure_arn", self.on_failure_arn),
            ("on_success_arn", self.on_success_arn),
        ):
            if arn is not None and not _DESTINATION.match(arn):
                raise ConfigError(
                    f"async_invoke.{name}: got {arn!r}; use an SQS, SNS, Lambda or EventBridge ARN"
                )
        if all(value is None for value in (retries, age, self.on_failure_arn, self.on_success_arn)):
            raise ConfigError("async_invoke: sets nothing; give a field or leave async_invoke out")
