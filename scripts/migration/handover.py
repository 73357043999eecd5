"""State hand-over: what the old Terraform root must forget, found by identity.

Our stack adopts existing resources through import blocks (`cdk.tf.json`: `import[].to`,
`import[].id`). The old root holds the same resources in its state under its own
addresses. Each import id is matched to the old state's instance by the resource's
identity (function name, role name, mapping UUID, rule and target ids, log group name,
permission statement id...), never by address: the two roots name things differently.

A `removed { from = ADDR; lifecycle { destroy = false } }` block takes a whole resource
or a whole module call (every instance; Terraform refuses instance keys there, module keys
included), so it is written only when every instance of what the root's code declares
moves: a root resource, or a `module "NAME"` call with everything in it (its block is
deleted from the root; the module's own source, often shared by calls that stay, is not
touched). An instance of something that stays in part is named with its `terraform state
rm` command instead, and its key must leave the root's code (or it is created again).
Pure functions over JSON; the terraform runs and the proof are in handover_run.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HANDOVER_FILE = "layers_handover.tf"
_INDEX = re.compile(r"\[[^\[\]]*\]$")
_MODULE_CALL = re.compile(r"^module\.([\w-]+)")


def _name(value: Any) -> str:
    """A function given as a name or an ARN (`function_name = aws_lambda_function.x.arn`)."""
    text = str(value or "")
    parts = text.split(":")
    return parts[6] if text.startswith("arn:") and len(parts) >= 7 else text


def identities(type_: str, values: Mapping[str, Any]) -> set[str]:
    """Every import id the resource with these state values answers to."""
    found = {str(values["id"])} if values.get("id") else set()
    get = values.get
    if type_ == "aws_lambda_function":
        found.add(_name(get("function_name")))
    elif type_ in ("aws_cloudwatch_log_group", "aws_iam_role", "aws_cloudwatch_event_rule"):
        found.add(str(get("name")))
    elif type_ == "aws_iam_role_policy":
        found.add(f"{get('role')}:{get('name')}")
    elif type_ == "aws_iam_role_policy_attachment":
        found.add(f"{get('role')}/{get('policy_arn')}")
    elif type_ == "aws_lambda_event_source_mapping":
        found.add(str(get("uuid")))
    elif type_ == "aws_cloudwatch_event_target":
        found.add(f"{get('rule')}/{get('target_id')}")
        found.add(f"{get('event_bus_name') or 'default'}/{get('rule')}/{get('target_id')}")
    elif type_ == "aws_lambda_permission":
        qualifier = f":{get('qualifier')}" if get("qualifier") else ""
        found.add(f"{_name(get('function_name'))}{qualifier}/{get('statement_id')}")
    elif type_ == "aws_lambda_alias":
        found.add(f"{_name(get('function_name'))}/{get('name')}")
    elif type_ == "aws_lambda_provisioned_concurrency_config":
        found.add(f"{_name(get('function_name'))},{get('qualifier')}")
    elif type_ == "aws_lambda_function_event_invoke_config":
        qualifier = f":{get('qualifier')}" if get("qualifier") else ""
        found.add(f"{_name(get('function_name'))}{qualifier}")
    return found - {"", "None"}


@dataclass(frozen=True, kw_only=True)
class Instance:
    """One resource instance in the old root's state."""

    address: str
    type: str
    values: Mapping[str, Any]

    @property
    def resource(self) -> str:
        """The address without its instance key: what a `removed` block names."""
        return _INDEX.sub("", self.address)

    @property
    def owner(self) -> str:
        """What declares it in the root's code: its `module.NAME` call (keys dropped) when
        it lives in a child module, else its resource."""
        call = _MODULE_CALL.match(self.address)
        return f"module.{call[1]}" if call else self.resource


@dataclass(frozen=True, kw_only=True)
class Move:
    """One resource our stack imports, and where the old root holds it (if it does)."""

    ours: str
    type: str
    import_id: str
    old: Instance | None


def state_instances(state: Mapping[str, Any]) -> Iterator[Instance]:
    """Every managed instance in `terraform show -json` of a state, child modules too."""
    modules = [(state.get("values") or {}).get("root_module") or {}]
    while modules:
        module = modules.pop()
        for resource in module.get("resources", []):
            if resource.get("mode") == "managed":
                yield Instance(
                    address=resource["address"],
                    type=resource["type"],
                    values=resource.get("values") or {},
                )
        modules.extend(module.get("child_modules", []))


def imports_of(stack_file: Path) -> list[tuple[str, str]]:
    """(address, import id) of every import block in a synthesized stack."""
    stack = json.loads(stack_file.read_text(encoding="utf-8"))
    return [(str(block["to"]), str(block["id"])) for block in stack.get("import", [])]


def match(imports: list[tuple[str, str]], state: Mapping[str, Any]) -> list[Move]:
    instances = list(state_instances(state))
    moves = []
    for ours, import_id in imports:
        type_ = ours.split(".", 1)[0]
        old = next(
            (i for i in instances if i.type == type_ and import_id in identities(i.type, i.values)),
            None,
        )
        moves.append(Move(ours=ours, type=type_, import_id=import_id, old=old))
    return moves


@dataclass(frozen=True, kw_only=True)
class HandoverPlan:
    moves: tuple[Move, ...]
    # Root resources and module calls every instance of which moves: one `removed` each.
    removed: tuple[str, ...]
    # Instances of resources that move only in part: `terraform state rm` each.
    state_rm: tuple[str, ...]

    @property
    def forgotten(self) -> tuple[str, ...]:
        """Every old-root instance address that must be forgotten (none destroyed)."""
        return tuple(sorted({m.old.address for m in self.moves if m.old is not None}))

    @property
    def not_in_old_state(self) -> tuple[Move, ...]:
        return tuple(m for m in self.moves if m.old is None)

    @property
    def by_removed_block(self) -> tuple[str, ...]:
        """The old-root instances the `removed` blocks forget."""
        return tuple(
            sorted(
                m.old.address
                for m in self.moves
                if m.old is not None and m.old.owner in self.removed
            )
        )


def plan_handover(imports: list[tuple[str, str]], state: Mapping[str, Any]) -> HandoverPlan:
    moves = match(imports, state)
    moving = {m.old.address for m in moves if m.old is not None}
    by_owner: dict[str, set[str]] = {}
    for instance in state_instances(state):
        by_owner.setdefault(instance.owner, set()).add(instance.address)
    removed, state_rm = [], []
    for owner, addresses in sorted(by_owner.items()):
        if not addresses & moving:
            continue
        if addresses <= moving:
            removed.append(owner)
        else:
            state_rm.extend(sorted(addresses & moving))
    return HandoverPlan(moves=tuple(moves), removed=tuple(removed), state_rm=tuple(state_rm))


def removed_blocks(plan: HandoverPlan, *, env_name: str) -> str:
    """The text of DIR/layers_handover.tf."""
    lines = [
        f"# Written by `python -m scripts migrate --env {env_name} --handover`: these resources",
        "# now belong to the layers stack. Terraform forgets them here and destroys nothing.",
        "# Delete their resource and module blocks from this root's code as well (Terraform",
        "# refuses a removed block for what is still declared).",
    ]
    for resource in plan.removed:
        lines += [
            "",
            "removed {",
            f"  from = {resource}",
            "  lifecycle {",
            "    destroy = false",
            "  }",
            "}",
        ]
    return "\n".join(lines) + "\n"
