"""Rules for what calls a function: permissions, API Gateway integrations, EventBridge
rules and targets, and the alias callers use.

Each rule yields (word, effect) for one resource change: the word that says it is intended
(environments/intended.py), the effect in plain words. docs/plan-check.md lists them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from scripts.infra.plan_parse import Change
from scripts.infra.plan_values import PlanIndex, gone, retarget, shown

_GRANT = ("function_name", "qualifier", "principal", "source_arn", "source_account")


def permission(change: Change, index: PlanIndex) -> Iterator[tuple[str, str]]:
    if change.action not in ("delete", "replace"):
        return
    before = change.before
    target = shown(before.get("function_name"))
    if before.get("qualifier"):
        target = f"{target}:{before['qualifier']}"
    # Terraform shows an unset qualifier as "" in state and null in the plan: equal.
    same = all(
        (before.get(k) or None) == (change.after.get(k) or None) and k not in change.unknown
        for k in _GRANT
    )
    if change.action == "replace" and change.actions[0] == "create" and same:
        # create_before_destroy granting the same callers: the new statement exists before
        # the old one goes, so nobody is refused in between.
        return
    when = gone(change) if same else ""
    yield (
        "permission",
        f"callers ({before.get('principal')}{_source(before)}) would get 403/AccessDenied "
        f"invoking {target}{when}",
    )


def function_url(change: Change, index: PlanIndex) -> Iterator[tuple[str, str]]:
    if change.action not in ("delete", "replace"):
        return
    before = change.before
    target = shown(before.get("function_name"))
    if before.get("qualifier"):
        target = f"{target}:{before['qualifier']}"
    # A function URL's host is random: a replacement answers on another one.
    yield (
        "function_url",
        f"callers of {before.get('function_url') or 'the function URL'} ({target}) would "
        "find nothing there",
    )


def _source(values: Mapping[str, Any]) -> str:
    source = values.get("source_arn")
    return f" from {str(source).rsplit(':', 1)[-1]}" if source else ""


def integration(attribute: str) -> Callable[[Change, PlanIndex], Iterator[tuple[str, str]]]:
    def check(change: Change, index: PlanIndex) -> Iterator[tuple[str, str]]:
        fn = shown(change.before.get(attribute))
        if change.action == "delete" or (
            change.action == "replace" and change.actions[0] == "delete"
        ):
            yield (
                "integration",
                f"the API would stop calling {fn}: its routes would fail{gone(change)}",
            )
        if change.action in ("update", "replace") and change.before:
            moved = retarget(change, attribute, index)
            if moved:
                yield (attribute, f"the API would call {moved[1]} instead of {moved[0]}")

    return check


def event_target(change: Change, index: PlanIndex) -> Iterator[tuple[str, str]]:
    before = change.before
    name, fn = before.get("rule"), shown(before.get("arn"))
    if change.action == "delete":
        yield "event_target", f"rule {name} would stop invoking {fn}"
    elif change.action == "replace":
        same = all(before.get(k) == change.after.get(k) for k in ("rule", "target_id"))
        if change.actions[0] == "delete" or same:
            # Create-before-destroy under the same ids: the delete removes what the create
            # just wrote (one target id, one target).
            yield (
                "event_target",
                f"rule {name} would stop invoking {fn}"
                + (
                    gone(change)
                    if change.actions[0] == "delete"
                    else ": the delete would remove the target the create wrote"
                ),
            )
    if change.action in ("update", "replace") and before:
        moved = retarget(change, "arn", index)
        if moved:
            yield "arn", f"rule {name} would invoke {moved[1]} instead of {moved[0]}"


def event_rule(change: Change, index: PlanIndex) -> Iterator[tuple[str, str]]:
    name = str(change.before.get("name", ""))
    invoked = ", ".join(f for f in index.rule_targets.get(name, ()) if f) or "its targets"
    if change.action in ("delete", "replace"):
        verb = "deleted" if change.action == "delete" else "replaced"
        yield "event_rule", f"rule {name} would be {verb}: it would stop invoking {invoked}"
    elif change.action == "update":
        disabled = change.after.get("state") == "DISABLED" or (
            change.before.get("is_enabled") is True and change.after.get("is_enabled") is False
        )
        if disabled and change.before.get("state") != "DISABLED":
            yield "state", f"rule {name} would be disabled: it would stop invoking {invoked}"


def alias(change: Change, index: PlanIndex) -> Iterator[tuple[str, str]]:
    if change.action != "update" or not change.before:
        return
    name = f"{shown(change.before.get('function_name'))}:{change.before.get('name')}"
    if "function_version" in change.attributes:
        new = (
            "a version only known after apply"
            if "function_version" in change.unknown
            else f"version {change.after.get('function_version')}"
        )
        yield (
            "function_version",
            f"callers of {name} would move from version {change.before.get('function_version')}"
            f" to {new} outside a release (no checks, no record: rollback would not know)",
        )
    if "routing_config" in change.attributes:
        yield (
            "routing_config",
            f"{name}'s traffic weights would change outside a release",
        )
