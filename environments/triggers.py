"""What invokes a function. A trigger invokes the function's alias (`target = "alias"`), so a
release moves all of them at once by moving the alias; one adopted as it runs today may
still invoke the unqualified function (`target = "function"`) until migrate's callers phase
moves it to the alias.

A trigger that already exists says so (`existing_uuid`, `exists`); with adoption on, the
stack imports it instead of creating a second one.

In an environment file each trigger is a table with `kind` = "sqs", "schedule" or
"permission" (the class's KIND).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import ClassVar, Literal

from environments.errors import ConfigError

# What a caller invokes: the alias releases move, or the unqualified function ($LATEST).
CallerTarget = Literal["alias", "function"]
CALLER_TARGETS = ("alias", "function")
# Lambda's only response type for SQS: the handler names the failed messages, and only
# those return to the queue. Dropping it makes a batch with one failure count as done.
FUNCTION_RESPONSE_TYPES = ("ReportBatchItemFailures",)
MIN_SQS_CONCURRENCY = 2
MAX_SQS_CONCURRENCY = 1000

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
    function_response_types: tuple[str, ...] = ()
    # The mapping's scaling_config: None leaves Lambda's default (up to 1000 pollers' worth).
    maximum_concurrency: int | None = None
    # Event filtering patterns (JSON texts), kept as written: Lambda stores them verbatim.
    filter_patterns: tuple[str, ...] = ()
    enabled: bool = True
    target: CallerTarget = "alias"

    KIND: ClassVar[str] = "sqs"

    def __post_init__(self) -> None:
        self._check_batching()
        where = "triggers.sqs"
        for kind in self.function_response_types:
            _choice(f"{where}.function_response_types", kind, FUNCTION_RESPONSE_TYPES)
        if len(set(self.function_response_types)) != len(self.function_response_types):
            raise ConfigError(f"{where}.function_response_types: listed twice")
        concurrency = self.maximum_concurrency
        if concurrency is not None and not (
            MIN_SQS_CONCURRENCY <= concurrency <= MAX_SQS_CONCURRENCY
        ):
            raise ConfigError(
                f"{where}.maximum_concurrency: got {concurrency}; "
                f"allowed: {MIN_SQS_CONCURRENCY}-{MAX_SQS_CONCURRENCY}"
            )
        for pattern in self.filter_patterns:
            check_json(f"{where}.filter_patterns", pattern, want_object=True)
        _choice(f"{where}.target", self.target, CALLER_TARGETS)

    def _check_batching(self) -> None:
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
    # The JSON text the target sends instead of the scheduled event (None: the event).
    input: str | None = None
    target: CallerTarget = "alias"

    KIND: ClassVar[str] = "schedule"

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
        if self.input is not None:
            check_json("triggers.schedule.input", self.input, want_object=False)
        _choice("triggers.schedule.target", self.target, CALLER_TARGETS)
        if self.target == "function" and not self.exists:
            # The stack makes no permission for a schedule on the function (the existing
            # one is an InvokePermission of its own): a new one would never be allowed in.
            raise ConfigError(
                "triggers.schedule.target: 'function' keeps an existing schedule as it runs "
                "(exists = true); a new schedule invokes the alias: leave target out"
            )

    def rule(self, function_name: str) -> str:
        return self.rule_name or f"{function_name}-schedule"

    def statement_id(self, function_name: str) -> str:
        return f"AllowEventBridge-{self.rule(function_name)}"


@dataclass(frozen=True, kw_only=True)
class InvokePermission:
    """Lets `principal` (from `source_arn`) invoke the alias: API Gateway, another account.

    With `exists`, the statement `statement_id` is imported: from the alias's policy, or
    with `target = "function"` from the unqualified function's (where the permissions of
    an estate that never used an alias are).
    """

    principal: str
    statement_id: str
    source_arn: str | None = None
    exists: bool = False
    target: CallerTarget = "alias"

    KIND: ClassVar[str] = "permission"

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
        _choice("triggers.permission.target", self.target, CALLER_TARGETS)


Trigger = SqsTrigger | ScheduleTrigger | InvokePermission


def _choice(where: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"{where}: got {value!r}; allowed: {', '.join(allowed)}")


def check_json(where: str, text: str, *, want_object: bool) -> None:
    """`text` must parse as JSON (an object when `want_object`): AWS refuses it otherwise,
    at apply time, long after the review that could have caught it."""
    try:
        value = json.loads(text)
    except ValueError as err:
        raise ConfigError(f"{where}: not JSON ({err}); got {text!r}") from None
    if want_object and not isinstance(value, dict):
        raise ConfigError(f"{where}: got {text!r}; use a JSON object")


def statement_ids(function_name: str, triggers: tuple[Trigger, ...]) -> list[str]:
    """The permission statements a function's triggers add to its alias, in order."""
    found = []
    for trigger in triggers:
        if isinstance(trigger, ScheduleTrigger):
            found.append(trigger.statement_id(function_name))
        elif isinstance(trigger, InvokePermission):
            found.append(trigger.statement_id)
    return found
