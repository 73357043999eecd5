"""What invokes a function. Every trigger invokes the function's alias, never `$LATEST`, so a
release moves all of them at once by moving the alias.

A trigger that already exists says so (`existing_uuid`, `exists`); with adoption on, the
stack imports it instead of creating a second one, then re-points it at the alias.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from environments.errors import ConfigError

_SQS_ARN = re.compile(r"^arn:aws[a-z-]*:sqs:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,80}(\.fifo)?$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_SCHEDULE = re.compile(r"^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\(.+\))$")
_RULE_NAME = re.compile(r"^[\w.-]{1,64}$")
_STATEMENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
_PRINCIPAL = re.compile(r"^([a-z0-9.-]+\.amazonaws\.com|\d{12}|arn:aws[a-z-]*:iam::\d{12}:\S+)$")
_ARN = re.compile(r"^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:\d{0,12}:\S+$")
# Lambda's limits for an SQS source: 10,000 per batch, more than 10 only with a window.
MAX_SQS_BATCH = 10_000
MAX_BATCHING_WINDOW_S = 300


@dataclass(frozen=True, kw_only=True)
class SqsTrigger:
    """An SQS event source mapping from `queue_arn` to the function's alias."""

    queue_arn: str
    batch_size: int = 10
    # 0 leaves the window unset (Lambda's default: none).
    batching_window_s: int = 0
    # The mapping's UUID when it already exists (`aws lambda list-event-source-mappings
    # --function-name NAME`): adoption imports it, then moves it to the alias in place.
    existing_uuid: str | None = None

    def __post_init__(self) -> None:
        if not _SQS_ARN.match(self.queue_arn):
            raise ConfigError(
                f"triggers.sqs.queue_arn: got {self.queue_arn!r}; "
                "use arn:aws:sqs:REGION:ACCOUNT:QUEUE"
            )
        if not 1 <= self.batch_size <= MAX_SQS_BATCH:
            raise ConfigError(
                f"triggers.sqs.batch_size: got {self.batch_size}; allowed: 1-{MAX_SQS_BATCH}"
            )
        if not 0 <= self.batching_window_s <= MAX_BATCHING_WINDOW_S:
            raise ConfigError(
                f"triggers.sqs.batching_window_s: got {self.batching_window_s}; "
                f"allowed: 0-{MAX_BATCHING_WINDOW_S}"
            )
        if self.batch_size > 10 and self.batching_window_s == 0:
            raise ConfigError(
                f"triggers.sqs.batch_size: {self.batch_size} needs batching_window_s >= 1 "
                "(Lambda refuses batches over 10 without a window)"
            )
        if self.existing_uuid is not None and not _UUID.match(self.existing_uuid):
            raise ConfigError(
                f"triggers.sqs.existing_uuid: got {self.existing_uuid!r}; use the mapping's "
                "UUID from `aws lambda list-event-source-mappings`"
            )


@dataclass(frozen=True, kw_only=True)
class ScheduleTrigger:
    """An EventBridge rule on a schedule, its target (the alias) and the invoke permission.

    With `exists`, the rule and its target `target_id` are imported; the permission for the
    alias is always new (an existing one on the bare function cannot be moved in place).
    """

    expression: str
    # Empty means `FUNCTION_NAME-schedule`.
    rule_name: str = ""
    description: str = ""
    target_id: str = "alias"
    exists: bool = False

    def __post_init__(self) -> None:
        if not _SCHEDULE.match(self.expression):
            raise ConfigError(
                f"triggers.schedule.expression: got {self.expression!r}; "
                "use rate(N unit) or cron(...)"
            )
        if self.rule_name and not _RULE_NAME.match(self.rule_name):
            raise ConfigError(
                f"triggers.schedule.rule_name: got {self.rule_name!r}; use 1-64 of letters, "
                "digits, '.', '-', '_'"
            )
        if not _RULE_NAME.match(self.target_id):
            raise ConfigError(f"triggers.schedule.target_id: got {self.target_id!r}")

    def rule(self, function_name: str) -> str:
        return self.rule_name or f"{function_name}-schedule"

    def statement_id(self, function_name: str) -> str:
        return f"AllowEventBridge-{self.rule(function_name)}"


@dataclass(frozen=True, kw_only=True)
class InvokePermission:
    """Lets `principal` (from `source_arn`) invoke the alias: API Gateway, another account.

    With `exists`, the statement `statement_id` on the alias is imported.
    """

    principal: str
    statement_id: str
    source_arn: str | None = None
    exists: bool = False

    def __post_init__(self) -> None:
        if not _PRINCIPAL.match(self.principal):
            raise ConfigError(
                f"triggers.permission.principal: got {self.principal!r}; use a service "
                "principal (apigateway.amazonaws.com), an account id or an IAM ARN"
            )
        if not _STATEMENT_ID.match(self.statement_id):
            raise ConfigError(
                f"triggers.permission.statement_id: got {self.statement_id!r}; "
                "use 1-100 of letters, digits, '-', '_'"
            )
        if self.source_arn is not None and not _ARN.match(self.source_arn):
            raise ConfigError(f"triggers.permission.source_arn: got {self.source_arn!r}")


Trigger = SqsTrigger | ScheduleTrigger | InvokePermission


def statement_ids(function_name: str, triggers: tuple[Trigger, ...]) -> list[str]:
    """The permission statements a function's triggers add to its alias, in order."""
    found = []
    for trigger in triggers:
        if isinstance(trigger, ScheduleTrigger):
            found.append(trigger.statement_id(function_name))
        elif isinstance(trigger, InvokePermission):
            found.append(trigger.statement_id)
    return found
