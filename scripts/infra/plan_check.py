"""`plan-check`: refuse a Terraform plan that takes a function down, loses messages or cuts
traffic, unless the configuration says it is intended.

Adopting an existing system is where a plan hurts most: a configuration that forgot one
setting imports a resource and then "fixes" it. This reads the plan Terraform made and
refuses it (exit 1; one line per resource: address, word, what it would do) when it would

- delete or replace a function, a role, a log group or an alias (never allowed);
- change in place a protected function attribute (memory, timeout, environment, VPC, role,
  handler, runtime, ...);
- lose messages: a mapping that stops reporting partial batch failures (failed messages
  would be deleted), gets a new filter, is disabled, deleted or sent to another function;
  a queue deleted or replaced (messages in flight would be lost); a redrive policy
  removed; asynchronous invocation with fewer retries, a shorter age or no failure
  destination;
- cut traffic: a permission deleted or replaced with a gap (callers would get
  403/AccessDenied); an API Gateway integration (v1 `uri`, v2 `integration_uri`) pointed at
  another function or deleted; a function URL deleted or replaced; a schedule target
  deleted or re-pointed, a rule deleted or disabled; an alias's version or weights moved
  by Terraform, outside a release.

Safe by rule: moving a trigger or caller from a function to its own alias (what migrate
does; an unknown target is followed through the plan's configuration references), a
permission replaced create-before-destroy that grants the same, more retries, new callers,
a forget (`removed` with destroy = false). docs/plan-check.md lists every rule and why.

"Intended" is explicit: the function lists the word in `intended_changes`
(environments/intended.py: a protected attribute, or the word each refusal names), or one
run passes `--allow RESOURCE.WORD` (RESOURCE: the Terraform address, the short name `api`,
or the function's name). Intended risks are listed, not hidden; the summary counts imports,
creates, updates, replaces, deletes, forgets and refusals.

Pure functions over the JSON of `terraform show -json PLAN` (`parse_plan`, `evaluate`,
`check_plan`; rules in plan_risks.py, table and JSON in plan_table.py); `check_stack` runs
terraform (scripts/infra/terraform.py) and is what other commands (migrate) call.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from environments import INTENDED_CHANGES, PROTECTED_ATTRIBUTES, Environment
from scripts.errors import BadInputError
from scripts.infra import plan_risks, plan_values
from scripts.infra.plan_parse import FUNCTION_TYPE, Change, changed_attributes, parse_plan

__all__ = [
    "Change",
    "Refusal",
    "Report",
    "changed_attributes",
    "check_plan",
    "check_stack",
    "evaluate",
    "intended_changes",
    "parse_plan",
    "resolve_allow",
]

# Deleting or replacing one of these takes a function, its permissions, its logs or its
# callers' entry point away.
PROTECTED_TYPES = (
    "aws_lambda_function",
    "aws_iam_role",
    "aws_cloudwatch_log_group",
    "aws_lambda_alias",
)


@dataclass(frozen=True, kw_only=True)
class Refusal:
    address: str
    label: str
    attribute: str | None
    reason: str

    def line(self) -> str:
        what = f"{self.address} ({self.label})" if self.label else self.address
        return f"{what}: {self.reason}"


@dataclass(frozen=True, kw_only=True)
class Report:
    changes: tuple[Change, ...]
    refusals: tuple[Refusal, ...]
    # Risks the configuration (`intended_changes`) or `--allow` says are intended: listed,
    # so a reviewer sees what the plan will do, but not refused.
    intended: tuple[Refusal, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.refusals

    def count(self, kind: str) -> int:
        """How many resources the plan will `kind` ("create+forget" counts as both)."""
        if kind == "import":
            return sum(1 for c in self.changes if c.import_id is not None)
        return sum(1 for c in self.changes if kind in c.action.split("+"))

    @property
    def imports(self) -> int:
        return self.count("import")

    @property
    def counts(self) -> dict[str, int]:
        found = {kind: self.count(kind) for kind in COUNTED}
        return {**found, "refused": len(self.refusals)}

    @property
    def summary(self) -> str:
        counts = self.counts
        done = ", ".join(f"{counts[kind]} to {COUNTED[kind]}" for kind in COUNTED)
        return f"{done}; {counts['refused']} refused"


# What the summary counts, in its order, and how it says each.
COUNTED = {
    "import": "import",
    "create": "create",
    "update": "update in place",
    "replace": "replace",
    "delete": "delete",
    "forget": "forget",
}


def _show(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return text if len(text) <= 80 else text[:77] + "..."


def evaluate(
    changes: Sequence[Change],
    *,
    intended: Mapping[str, Collection[str]],
    allow: Collection[tuple[str, str]] = (),
    configuration: Mapping[str, Any] | None = None,
) -> Report:
    """Refuse what the module docstring lists; `intended` and `allow` exempt what they name.

    `intended` maps a function's name to the words its configuration means to change;
    `allow` holds (function name or address, word) pairs from `--allow`; `configuration`
    is the plan's own (it lets a rule follow a value only known after apply).
    """
    refusals = [_protected(change) for change in changes if _is_protected_loss(change)]
    for change in changes:
        if change.type == FUNCTION_TYPE and change.action == "update":
            refusals.extend(_function_attributes(change, intended, allow))
    allowed: list[Refusal] = []
    index = plan_values.build_index(changes, configuration or {})
    labels = {c.address: c.label for c in changes}
    for risk, owners in plan_risks.risks(changes, index):
        keys = {risk.address, *owners}
        exempt = any(risk.word in intended.get(o, ()) for o in owners) or any(
            key in keys and word == risk.word for key, word in allow
        )
        refusal = Refusal(
            address=risk.address,
            label=labels.get(risk.address, ""),
            attribute=risk.word,
            reason=f"{risk.word}: {risk.effect}" + ("" if exempt else _how_to_intend(risk)),
        )
        (allowed if exempt else refusals).append(refusal)
    return Report(changes=tuple(changes), refusals=tuple(refusals), intended=tuple(allowed))


def check_plan(
    plan: Mapping[str, Any],
    *,
    intended: Mapping[str, Collection[str]],
    allow: Collection[tuple[str, str]] = (),
) -> Report:
    """`evaluate` over the JSON of `terraform show -json PLANFILE`, its configuration included."""
    return evaluate(
        parse_plan(plan),
        intended=intended,
        allow=allow,
        configuration=plan.get("configuration"),
    )


def _how_to_intend(risk: plan_values.Risk) -> str:
    where = (
        f"list {risk.word!r} in {risk.function}'s intended_changes, or " if risk.function else ""
    )
    return f"; if intended, {where}pass --allow {risk.address}.{risk.word}"


def _is_protected_loss(change: Change) -> bool:
    return change.type in PROTECTED_TYPES and change.action in ("delete", "replace")


def _protected(change: Change) -> Refusal:
    # Never exempt: the stack exists to keep these (a new function is a new name).
    reason = f"would be {'deleted' if change.action == 'delete' else 'replaced'}"
    if change.action == "replace" and change.replace_paths:
        forced = ", ".join(".".join(map(str, path)) for path in change.replace_paths)
        reason += f" (a change to {forced} forces it)"
    return Refusal(address=change.address, label=change.label, attribute=None, reason=reason)


def _function_attributes(
    change: Change, intended: Mapping[str, Collection[str]], allow: Collection[tuple[str, str]]
) -> list[Refusal]:
    name = change.function_name or ""
    exempt = set(intended.get(name, ()))
    exempt |= {attr for key, attr in allow if key in (name, change.address)}
    refusals = []
    for attribute in change.attributes:
        if attribute not in PROTECTED_ATTRIBUTES or attribute in exempt:
            continue
        after = (
            "(known after apply)"
            if attribute in change.unknown
            else _show(change.after.get(attribute))
        )
        refusals.append(
            Refusal(
                address=change.address,
                label=change.label,
                attribute=attribute,
                reason=(
                    f"{attribute} {_show(change.before.get(attribute))} -> {after} is not "
                    f"intended: fix the configuration, or list {attribute!r} in the "
                    f"function's intended_changes (or pass --allow {name}.{attribute})"
                ),
            )
        )
    return refusals


def intended_changes(env: Environment) -> dict[str, frozenset[str]]:
    """What each function's configuration means to change, by the function's real name."""
    return {
        env.function_name(f.name): frozenset(f.intended_changes)
        for f in env.functions
        if f.intended_changes
    }


def resolve_allow(env: Environment, values: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """`--allow RESOURCE.ATTR` with RESOURCE a short name, a function name or an address."""
    short = {f.name: env.function_name(f.name) for f in env.functions}
    resolved = []
    for value in values:
        resource, _, attribute = value.rpartition(".")
        if not resource or attribute not in INTENDED_CHANGES:
            raise BadInputError(
                f"--allow {value!r}: use RESOURCE.ATTRIBUTE with ATTRIBUTE one of "
                f"{', '.join(INTENDED_CHANGES)}"
            )
        resolved.append((short.get(resource, resource), attribute))
    return tuple(resolved)


def check_stack(
    stack_dir: Path,
    env: Environment,
    *,
    allow: Sequence[str] = (),
    plan_file: Path | None = None,
    terraform: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Report:
    """Plan (or read `plan_file`) in a synthesized stack and evaluate it: the library entry.

    Raises BadInputError (no stack, no terraform, terraform < 1.5, a bad --allow) and
    ToolError (terraform itself failed); a refused plan is a Report with refusals.
    """
    from scripts.infra import terraform as tf  # noqa: PLC0415 - runs processes; parsing does not

    allowed = resolve_allow(env, allow)
    binary = tf.require_terraform(terraform)
    plan = tf.plan_json(stack_dir, terraform=binary, plan_file=plan_file, environ=environ)
    return check_plan(plan, intended=intended_changes(env), allow=allowed)
