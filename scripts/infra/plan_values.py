"""Reading a plan's values for the risk rules: functions in ARNs, queues, JSON documents,
and what else the plan says (who reads a queue, what an unknown value refers to).

A change that moves a caller or a queue from a function to one of its own aliases (or
back) stays on the same function: that is what `migrate` does. A target only known after
apply is followed through the plan's `configuration` references to the alias or function
it names; one that cannot be followed counts as another function.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scripts.infra.plan_parse import Change

# A function inside an ARN or an API Gateway invoke URI, with its qualifier if any.
_FUNCTION = re.compile(r"(?:^|:)function:([A-Za-z0-9_-]+)(?::([A-Za-z0-9$_-]+))?")


@dataclass(frozen=True, kw_only=True)
class Risk:
    """One change that loses messages or cuts traffic, unless intended."""

    address: str
    # The function concerned (its name, unqualified), "" when the plan does not say.
    function: str
    # The word that says it is intended (environments.intended.RISKY_CHANGES).
    word: str
    effect: str


@dataclass(frozen=True, kw_only=True)
class PlanIndex:
    """What a rule needs from the rest of the plan: who reads a queue, who a rule invokes,
    and what an unknown value refers to."""

    changes: Mapping[str, Change]
    # Queue ARN or name -> the functions its mappings invoke (before the plan).
    queue_readers: Mapping[str, tuple[str, ...]]
    # EventBridge rule name -> the functions its targets invoke.
    rule_targets: Mapping[str, tuple[str, ...]]
    # Queues the plan deletes or replaces (by name): their own refusal says what is lost,
    # so a mapping or redrive policy that goes with them is not refused a second time.
    queues_going: frozenset[str] = frozenset()
    # Address -> attribute -> the addresses its configuration expression refers to.
    references: Mapping[str, Mapping[str, tuple[str, ...]]]


def function_of(value: Any) -> tuple[str, str] | None:
    """(name, qualifier) of a function name, a function or alias ARN, or an invoke URI."""
    if not isinstance(value, str) or not value:
        return None
    found = _FUNCTION.search(value)
    if found:
        return found.group(1), found.group(2) or ""
    if value.startswith("arn:"):
        return None
    name, _, qualifier = value.partition(":")
    return name, qualifier


def name_of(value: Any) -> str:
    found = function_of(value)
    return found[0] if found else ""


def shown(value: Any) -> str:
    found = function_of(value)
    if found is None:
        return str(value).rsplit(":", 1)[-1] if value else "(none)"
    return f"{found[0]}:{found[1]}" if found[1] else found[0]


def queue_name(value: Any) -> str:
    # An ARN ends in :NAME, a URL in /NAME.
    return str(value or "").rsplit(":", 1)[-1].rsplit("/", 1)[-1]


def build_index(changes: Sequence[Change], configuration: Mapping[str, Any]) -> PlanIndex:
    readers: dict[str, list[str]] = {}
    targets: dict[str, list[str]] = {}
    going: set[str] = set()
    for change in changes:
        values = change.before or change.after
        if change.type == "aws_lambda_event_source_mapping":
            queue = queue_name(values.get("event_source_arn"))
            readers.setdefault(queue, []).append(name_of(values.get("function_name")))
        elif change.type == "aws_cloudwatch_event_target":
            targets.setdefault(str(values.get("rule", "")), []).append(name_of(values.get("arn")))
        elif change.type == "aws_sqs_queue" and change.action in ("delete", "replace"):
            going.add(queue_name(values.get("name") or values.get("url")))
    return PlanIndex(
        changes={c.address: c for c in changes},
        queue_readers={k: tuple(v) for k, v in readers.items()},
        rule_targets={k: tuple(v) for k, v in targets.items()},
        references=_references(configuration),
        queues_going=frozenset(going),
    )


def _references(configuration: Mapping[str, Any]) -> dict[str, dict[str, tuple[str, ...]]]:
    """Address -> attribute -> references, from the plan's configuration (root and modules)."""
    found: dict[str, dict[str, tuple[str, ...]]] = {}

    def walk(module: Mapping[str, Any], prefix: str) -> None:
        for resource in module.get("resources") or ():
            expressions = resource.get("expressions") or {}
            found[prefix + str(resource.get("address", ""))] = {
                key: tuple(value.get("references") or ())
                for key, value in expressions.items()
                if isinstance(value, Mapping)
            }
        for name, call in (module.get("module_calls") or {}).items():
            walk(call.get("module") or {}, f"{prefix}module.{name}.")

    walk(configuration.get("root_module") or {}, "")
    return found


def _resolve(change: Change, attribute: str, index: PlanIndex) -> str:
    """The function an unknown attribute will name, through the configuration's references."""
    base = change.address.split("[", 1)[0]
    for ref in index.references.get(base, {}).get(attribute, ()):
        if not ref.startswith(("aws_lambda_alias.", "aws_lambda_function.")):
            continue
        address = ".".join(ref.split(".")[:2])
        target = index.changes.get(address) or next(
            (c for a, c in index.changes.items() if a.split("[", 1)[0] == address), None
        )
        if target is not None:
            return name_of((target.after or target.before).get("function_name"))
    return ""


def retarget(change: Change, attribute: str, index: PlanIndex) -> tuple[str, str] | None:
    """(old, new) function when `attribute` moves to another function; None when it stays
    on the same one (its alias included) or did not change."""
    old = name_of(change.before.get(attribute))
    if attribute in change.unknown:
        new = _resolve(change, attribute, index)
        if not new:
            return old, "a target only known after apply"
        return None if new == old else (old, new)
    if attribute not in change.attributes:
        return None
    new = name_of(change.after.get(attribute))
    return None if new == old or not old else (old, new or "(none)")


def gone(change: Change) -> str:
    """How a delete or replace reads in an effect: when it takes the thing away."""
    if change.action == "delete":
        return ""
    if change.actions[0] == "delete":
        return " between the delete and the create"
    return ""


def as_json(value: Any) -> Any:
    """A JSON document as data (so formatting is no change); anything else as it is."""
    if isinstance(value, str):
        try:
            return json.loads(value) if value.strip() else None
        except ValueError:
            return value
    if isinstance(value, list):
        return [as_json(v) for v in value]
    if isinstance(value, Mapping):
        return {k: as_json(v) for k, v in value.items()}
    return value


def dead_letter(policy: Any) -> str:
    document = as_json(policy)
    return str(document.get("deadLetterTargetArn", "")) if isinstance(document, dict) else ""
