"""Rules for what feeds a function: SQS mappings, queues, redrive, asynchronous invocation.

Each rule yields (word, effect) for one resource change: the word that says it is intended
(environments/intended.py), the effect in plain words. docs/plan-check.md lists them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from scripts.infra.plan_parse import Change
from scripts.infra.plan_values import (
    PlanIndex,
    as_json,
    dead_letter,
    name_of,
    queue_name,
    retarget,
    shown,
)

PARTIAL_FAILURES = "ReportBatchItemFailures"
# Lambda's settings for asynchronous invocation when no event invoke config exists.
ASYNC_DEFAULT_RETRIES = 2
ASYNC_DEFAULT_AGE_S = 21600


def mapping(change: Change, index: PlanIndex) -> Iterator[tuple[str, str]]:
    before, after = change.before, change.after
    queue = queue_name(before.get("event_source_arn"))
    fn = name_of(before.get("function_name"))
    moved = queue_name(after.get("event_source_arn")) != queue
    if queue in index.queues_going:
        return
    if change.action == "delete" or (change.action == "replace" and moved):
        yield (
            "event_source_mapping",
            f"queue {queue} would no longer be read by {fn}: its messages would wait, then "
            "expire unprocessed",
        )
        return
    if change.action not in ("update", "replace") or not before:
        return
    had = PARTIAL_FAILURES in (before.get("function_response_types") or ())
    kept = PARTIAL_FAILURES in (after.get("function_response_types") or ())
    if had and not kept and "function_response_types" not in change.unknown:
        yield (
            "function_response_types",
            f"{PARTIAL_FAILURES} removed: a batch from {queue} that reports failed "
            "items would be taken as done, so failed messages would be deleted",
        )
    if before.get("enabled") is True and after.get("enabled") is False:
        yield (
            "enabled",
            f"disabled: queue {queue} would no longer be read; its messages would wait, then "
            "expire unprocessed",
        )
    filters = after.get("filter_criteria") or []
    if (
        "filter_criteria" in change.attributes
        and filters
        and as_json(filters) != as_json(before.get("filter_criteria") or [])
    ):
        yield (
            "filter_criteria",
            f"a new filter: messages from {queue} it does not match would be deleted unprocessed",
        )
    moved_to = retarget(change, "function_name", index)
    if moved_to:
        yield (
            "function_name",
            f"queue {queue}'s messages would go to {moved_to[1]} instead of {moved_to[0]}",
        )


def _redrive(change: Change, queue: str) -> Iterator[tuple[str, str]]:
    had = dead_letter(change.before.get("redrive_policy"))
    if not had or "redrive_policy" in change.unknown:
        return
    replaced = change.action == "replace" and change.before.get("queue_url") != change.after.get(
        "queue_url"
    )
    if change.action == "delete" or replaced or not dead_letter(change.after.get("redrive_policy")):
        yield (
            "redrive_policy",
            f"queue {queue} would lose its dead-letter queue {queue_name(had)}: messages that "
            "keep failing would be retried until they expire, then lost",
        )


def queue(change: Change, index: PlanIndex) -> Iterator[tuple[str, str]]:
    queue = queue_name(change.before.get("name") or change.before.get("url"))
    if change.action in ("delete", "replace"):
        yield (
            "sqs_queue",
            f"queue {queue} would be {'deleted' if change.action == 'delete' else 'replaced'}: "
            "the messages in it, in flight or waiting, would be lost",
        )
        return
    if change.action == "update":
        yield from _redrive(change, queue)


def redrive_resource(change: Change, index: PlanIndex) -> Iterator[tuple[str, str]]:
    queue = queue_name(change.before.get("queue_url"))
    if change.action in ("delete", "replace", "update") and queue not in index.queues_going:
        yield from _redrive(change, queue)


def _async_settings(values: Mapping[str, Any] | None) -> tuple[int, int, str]:
    """(retries, maximum age, on-failure destination) as Lambda applies them."""
    if not values:
        return ASYNC_DEFAULT_RETRIES, ASYNC_DEFAULT_AGE_S, ""
    retries = values.get("maximum_retry_attempts")
    age = values.get("maximum_event_age_in_seconds")
    destination = ""
    for config in values.get("destination_config") or ():
        for failure in config.get("on_failure") or ():
            destination = str(failure.get("destination") or "")
    return (
        ASYNC_DEFAULT_RETRIES if retries is None else int(retries),
        ASYNC_DEFAULT_AGE_S if age is None else int(age),
        destination,
    )


def invoke_config(change: Change, index: PlanIndex) -> Iterator[tuple[str, str]]:
    before = change.before
    identity = ("function_name", "qualifier")
    # An unset qualifier is "" in state and null in a plan: the same.
    moved = any((before.get(k) or None) != (change.after.get(k) or None) for k in identity)
    target = shown(before.get("function_name"))
    if before.get("qualifier"):
        target = f"{target}:{before['qualifier']}"
    if change.action == "delete" or (change.action == "replace" and moved):
        # What asynchronous callers of the old target are left with: Lambda's defaults.
        after: Mapping[str, Any] | None = None
        word, was = "event_invoke_config", " (the config is removed: Lambda's defaults apply)"
    elif change.action in ("update", "replace") and before:
        after, word, was = change.after, "", ""
    else:
        return
    old, new = _async_settings(before), _async_settings(after)
    if new[0] < old[0] and "maximum_retry_attempts" not in change.unknown:
        yield (
            word or "maximum_retry_attempts",
            f"failed asynchronous events for {target} would be retried {new[0]} times instead "
            f"of {old[0]}{was}",
        )
    if new[1] < old[1] and "maximum_event_age_in_seconds" not in change.unknown:
        yield (
            word or "maximum_event_age_in_seconds",
            f"asynchronous events for {target} older than {new[1]} s would be dropped "
            f"(was {old[1]} s){was}",
        )
    if old[2] and not new[2] and "destination_config" not in change.unknown:
        yield (
            word or "destination_config",
            f"asynchronous events for {target} that fail every retry would be dropped instead "
            f"of sent to {queue_name(old[2])}{was}",
        )
