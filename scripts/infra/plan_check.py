"""`plan-check`: refuse a Terraform plan that would take a running function down.

Adopting an existing system is where a plan hurts most: a configuration that forgot one
setting imports the function and then "fixes" it (memory raised, timeout cut, environment
deleted, VPC dropped, role swapped). This reads the plan Terraform made and refuses it
(exit 1, naming resource and attribute) when it would

- delete or replace a function, a role, a log group or an alias; or
- change in place a protected function attribute (`environments.PROTECTED_ATTRIBUTES`:
  memory, timeout, environment, VPC, role, handler, runtime, ...) that the configuration
  did not mark as intended.

"Intended" is explicit: a function lists the attributes it means to change in
`FunctionConfig.intended_changes`, or one run passes `--allow RESOURCE.ATTR` (RESOURCE: the
short name `api`, the function's name, or the Terraform address). Everything else the
migration changes (publishing versions, the layer, aliases, triggers moving to the alias,
new permissions and policies) is not a protected attribute, so it passes and is listed.

Pure functions over the JSON of `terraform show -json PLAN` (`parse_plan`, `evaluate`; the
table and JSON in plan_table.py); `check_stack` runs terraform (scripts/infra/terraform.py)
and is what other commands (the migration runbook) call.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from environments import PROTECTED_ATTRIBUTES, Environment
from scripts.errors import BadInputError

# Deleting or replacing one of these takes a function, its permissions, its logs or its
# callers' entry point away.
PROTECTED_TYPES = (
    "aws_lambda_function",
    "aws_iam_role",
    "aws_cloudwatch_log_group",
    "aws_lambda_alias",
)
FUNCTION_TYPE = "aws_lambda_function"
# How a person names a resource of these types: attributes joined by separators.
_LABEL_PARTS: Mapping[str, tuple[tuple[str, str], ...]] = {
    "aws_lambda_alias": (("function_name", ""), ("name", ":")),
    "aws_lambda_permission": (("function_name", ""), ("qualifier", ":"), ("statement_id", "/")),
    "aws_iam_role_policy": (("role", ""), ("name", ":")),
    "aws_iam_role_policy_attachment": (("role", ""), ("policy_arn", "/")),
    "aws_cloudwatch_event_target": (("rule", ""), ("target_id", "/")),
    "aws_lambda_event_source_mapping": (("event_source_arn", ""), ("uuid", " ")),
    "aws_lambda_layer_version": (("layer_name", ""),),
}
# Otherwise the first of these that is set.
_LABELS = ("function_name", "name", "statement_id", "target_id", "policy_arn", "uuid")


@dataclass(frozen=True, kw_only=True)
class Change:
    """One resource in the plan and what Terraform will do to it."""

    address: str
    type: str
    # "create", "update", "delete", "replace", "no-op", "forget"
    action: str
    import_id: str | None = None
    label: str = ""
    # Top-level attributes that differ; those only known after apply are in `unknown`.
    attributes: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()
    before: Mapping[str, Any] = field(default_factory=dict)
    after: Mapping[str, Any] = field(default_factory=dict)

    @property
    def function_name(self) -> str | None:
        if self.type != FUNCTION_TYPE:
            return None
        name = self.after.get("function_name") or self.before.get("function_name")
        return str(name) if name else None

    @property
    def kind(self) -> str:
        """How the table says it: import, import+update, create, update, ..."""
        if self.import_id is None:
            return self.action
        return "import" if self.action == "no-op" else f"import+{self.action}"


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

    @property
    def ok(self) -> bool:
        return not self.refusals

    def count(self, *kinds: str) -> int:
        return sum(1 for c in self.changes if c.action in kinds)

    @property
    def imports(self) -> int:
        return sum(1 for c in self.changes if c.import_id is not None)

    @property
    def summary(self) -> str:
        return (
            f"{self.imports} to import, {self.count('create')} to create, "
            f"{self.count('update')} to change in place, "
            f"{self.count('delete', 'replace')} to delete or replace"
        )


def _action(actions: Sequence[str]) -> str:
    kinds = list(actions)
    if sorted(kinds) == ["create", "delete"]:
        return "replace"
    if len(kinds) == 1:
        return kinds[0]
    raise BadInputError(f"plan: unexpected actions {kinds}")


def _has_unknown(value: Any) -> bool:
    if value is True:
        return True
    if isinstance(value, Mapping):
        return any(_has_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_unknown(v) for v in value)
    return False


def changed_attributes(
    before: Mapping[str, Any], after: Mapping[str, Any], after_unknown: Mapping[str, Any]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Top-level attributes that differ, and those of them only known after apply."""
    unknown = tuple(sorted(k for k, v in after_unknown.items() if _has_unknown(v)))
    known = {k for k in set(before) | set(after) if k not in unknown}
    changed = {k for k in known if before.get(k) != after.get(k)}
    return tuple(sorted(changed | set(unknown))), unknown


def _label(type_: str, address: str, import_id: str | None, values: Mapping[str, Any]) -> str:
    parts = _LABEL_PARTS.get(type_, ())
    # ARNs shortened to their last segment: the table is read, the JSON keeps addresses.
    shown = [
        (sep, value.rsplit(":", 1)[-1].rsplit("/", 1)[-1] if value.startswith("arn:") else value)
        for key, sep in parts
        if isinstance(value := values.get(key), str) and value
    ]
    if shown:
        return "".join(sep + value if index else value for index, (sep, value) in enumerate(shown))
    for key in _LABELS:
        value = values.get(key)
        if isinstance(value, str) and value:
            return value
    return import_id or address.rsplit(".", 1)[-1]


def parse_plan(plan: Mapping[str, Any]) -> tuple[Change, ...]:
    """Every managed resource change in a `terraform show -json` plan (data reads left out)."""
    if "resource_changes" not in plan and "format_version" not in plan:
        raise BadInputError("plan: not the JSON of `terraform show -json PLANFILE`")
    found = []
    for resource in plan.get("resource_changes") or ():
        if resource.get("mode") != "managed":
            continue
        change = resource["change"]
        action = _action(change["actions"])
        before = change.get("before") or {}
        after = change.get("after") or {}
        importing = change.get("importing") or None
        import_id = str(importing.get("id", "")) if importing is not None else None
        attributes: tuple[str, ...] = ()
        unknown: tuple[str, ...] = ()
        if action in ("update", "replace"):
            attributes, unknown = changed_attributes(
                before, after, change.get("after_unknown") or {}
            )
        found.append(
            Change(
                address=resource["address"],
                type=resource["type"],
                action=action,
                import_id=import_id,
                label=_label(resource["type"], resource["address"], import_id, after or before),
                attributes=attributes,
                unknown=unknown,
                before=before,
                after=after,
            )
        )
    return tuple(found)


def _show(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return text if len(text) <= 80 else text[:77] + "..."


def evaluate(
    changes: Sequence[Change],
    *,
    intended: Mapping[str, Collection[str]],
    allow: Collection[tuple[str, str]] = (),
) -> Report:
    """Refuse what the module docstring lists; `intended` and `allow` exempt attributes.

    `intended` maps a function's name to the attributes its configuration means to change;
    `allow` holds (function name or address, attribute) pairs from `--allow`.
    """
    refusals = []
    for change in changes:
        label = change.label
        if change.type in PROTECTED_TYPES and change.action in ("delete", "replace"):
            refusals.append(
                Refusal(
                    address=change.address,
                    label=label,
                    attribute=None,
                    reason=f"would be {'deleted' if change.action == 'delete' else 'replaced'}",
                )
            )
            continue
        if change.type != FUNCTION_TYPE or change.action != "update":
            continue
        name = change.function_name or ""
        exempt = set(intended.get(name, ()))
        exempt |= {attr for key, attr in allow if key in (name, change.address)}
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
                    label=label,
                    attribute=attribute,
                    reason=(
                        f"{attribute} {_show(change.before.get(attribute))} -> {after} is not "
                        f"intended: fix the configuration, or list {attribute!r} in the "
                        f"function's intended_changes (or pass --allow {name}.{attribute})"
                    ),
                )
            )
    return Report(changes=tuple(changes), refusals=tuple(refusals))


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
        if not resource or attribute not in PROTECTED_ATTRIBUTES:
            raise BadInputError(
                f"--allow {value!r}: use RESOURCE.ATTRIBUTE with ATTRIBUTE one of "
                f"{', '.join(PROTECTED_ATTRIBUTES)}"
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

    try:
        allowed = resolve_allow(env, allow)
    except ValueError as err:
        raise BadInputError(str(err)) from None
    binary = tf.require_terraform(terraform)
    plan = tf.plan_json(stack_dir, terraform=binary, plan_file=plan_file, environ=environ)
    return evaluate(parse_plan(plan), intended=intended_changes(env), allow=allowed)
