"""Reading `terraform show -json PLANFILE`: every managed resource change, as a `Change`.

Pure: the JSON plan representation (format 1.x) in, frozen values out. What is refused is
decided elsewhere (plan_check.evaluate, plan_risks).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from scripts.errors import BadInputError

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
    "aws_sqs_queue_redrive_policy": (("queue_url", ""),),
    "aws_lambda_function_event_invoke_config": (("function_name", ""), ("qualifier", ":")),
}
# Otherwise the first of these that is set.
_LABELS = ("function_name", "name", "statement_id", "target_id", "policy_arn", "uuid")


@dataclass(frozen=True, kw_only=True)
class Change:
    """One resource in the plan and what Terraform will do to it."""

    address: str
    type: str
    # "create", "update", "delete", "replace", "no-op", "forget", "create+forget"
    action: str
    # Terraform's own list: a replace is ["delete", "create"], or ["create", "delete"]
    # under create_before_destroy.
    actions: tuple[str, ...] = ()
    action_reason: str = ""
    replace_paths: tuple[tuple[Any, ...], ...] = ()
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


def _action(actions: Sequence[str]) -> str:
    kinds = list(actions)
    if sorted(kinds) == ["create", "delete"]:
        return "replace"
    # A `removed` block with destroy = false under create_before_destroy: the old object
    # is left in AWS, unmanaged, and a new one created.
    if sorted(kinds) == ["create", "forget"]:
        return "create+forget"
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
    # ARNs and URLs shortened to their last segment: the table is read, the JSON keeps
    # addresses.
    shown = [
        (
            sep,
            value.rsplit(":", 1)[-1].rsplit("/", 1)[-1]
            if value.startswith(("arn:", "http"))
            else value,
        )
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
        if action in ("update", "replace", "create+forget"):
            attributes, unknown = changed_attributes(
                before, after, change.get("after_unknown") or {}
            )
        found.append(
            Change(
                address=resource["address"],
                type=resource["type"],
                action=action,
                actions=tuple(change["actions"]),
                action_reason=str(resource.get("action_reason") or ""),
                replace_paths=tuple(tuple(p) for p in change.get("replace_paths") or ()),
                import_id=import_id,
                # What is deleted or replaced is named as it is now: the person knows it.
                label=_label(
                    resource["type"],
                    resource["address"],
                    import_id,
                    (before or after) if action in ("delete", "replace") else (after or before),
                ),
                attributes=attributes,
                unknown=unknown,
                before=before,
                after=after,
            )
        )
    return tuple(found)
