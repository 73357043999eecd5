"""What in the old root still reads a resource that moves, and the data source to read
it with instead.

The old root's `.tf` files (its root module) are scanned for `TYPE.NAME.` references to a
moved resource outside that resource's own block and outside the other moved resources'
blocks (those go too). Each is listed with its file and line and the `data` block that
replaces it, filled with the resource's identity from the state. References inside child
modules (`module.lambda.role_name` reading `aws_iam_role.this` in the module) are not
followed: a moved resource in a child module is listed with its module instead.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scripts.migration.handover import HANDOVER_FILE, HandoverPlan, Instance

# type -> (data source, the identity arguments it takes: argument <- state attribute)
DATA_SOURCES: Mapping[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "aws_iam_role": ("aws_iam_role", (("name", "name"),)),
    "aws_lambda_function": ("aws_lambda_function", (("function_name", "function_name"),)),
    "aws_cloudwatch_log_group": ("aws_cloudwatch_log_group", (("name", "name"),)),
    "aws_lambda_alias": (
        "aws_lambda_alias",
        (("function_name", "function_name"), ("name", "name")),
    ),
}
_BLOCK = re.compile(r'^\s*resource\s+"(?P<type>[\w-]+)"\s+"(?P<name>[\w-]+)"\s*\{', re.M)


@dataclass(frozen=True, kw_only=True)
class Reference:
    file: str
    line: int
    text: str
    # The reference as written, and what to write instead (a data source's attribute or
    # the literal value from the state).
    expression: str
    replacement: str
    data_block: str


def _block_end(text: str, start: int) -> int:
    """The index after the `}` closing the block whose `{` is at or after `start`; quoted
    strings and comments are skipped so a brace in them does not count."""
    depth, i, quoted = 0, text.index("{", start), False
    while i < len(text):
        char = text[i]
        if quoted:
            if char == "\\":
                i += 1
            elif char == '"':
                quoted = False
        elif char == '"':
            quoted = True
        elif char == "#" or text.startswith("//", i):
            i = text.find("\n", i)
            if i < 0:
                return len(text)
            continue
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return len(text)


def _data_block(type_: str, label: str, values: Mapping[str, Any]) -> tuple[str, str] | None:
    known = DATA_SOURCES.get(type_)
    if known is None:
        return None
    source, arguments = known
    body = "\n".join(f'  {arg} = "{values.get(attr, "")}"' for arg, attr in arguments)
    return source, f'data "{source}" "{label}" {{\n{body}\n}}'


def find_references(root: Path, plan: HandoverPlan) -> list[Reference]:
    """Every root-module reference to a resource that moves, with its replacement."""
    instances = {
        m.old.address: m.old
        for m in plan.moves
        if m.old is not None and not m.old.address.startswith("module.")
    }
    resources = sorted({i.resource for i in instances.values()})
    found: list[Reference] = []
    for path in sorted(root.glob("*.tf")):
        if path.name == HANDOVER_FILE:
            continue
        text = path.read_text(encoding="utf-8")
        spans = [
            (m.start(), _block_end(text, m.start()))
            for m in _BLOCK.finditer(text)
            if f"{m['type']}.{m['name']}" in resources
        ]
        for resource in resources:
            pattern = re.compile(rf"(?<![\w.]){re.escape(resource)}(\[[^\]]*\])?(?:\.(\w+))?(?!\w)")
            for hit in pattern.finditer(text):
                if any(start <= hit.start() < end for start, end in spans):
                    continue
                instance = instances.get(resource + (hit.group(1) or "")) or next(
                    i for i in instances.values() if i.resource == resource
                )
                found.append(_reference(path, text, hit, instance))
    return found


def _reference(path: Path, text: str, hit: re.Match[str], instance: Instance) -> Reference:
    type_, label = instance.resource.split(".", 1)
    key = re.sub(r"\W+", "_", hit.group(1) or "").strip("_")
    label = f"{label}_{key}" if key else label
    line = text.count("\n", 0, hit.start()) + 1
    data = _data_block(type_, label, instance.values)
    attribute = hit.group(2)
    literal = instance.values.get(attribute) if attribute else None
    block = ""
    if attribute is None:
        replacement = "(drop it: a bare reference such as depends_on; the resource leaves)"
    elif data is not None:
        replacement, block = f"data.{data[0]}.{label}.{attribute}", data[1]
    elif isinstance(literal, str | int) and not isinstance(literal, bool):
        replacement = json.dumps(literal)
    else:
        replacement = f"(the value of {attribute}: no data source reads a {type_})"
    return Reference(
        file=path.name,
        line=line,
        text=text.splitlines()[line - 1],
        expression=hit.group(0),
        replacement=replacement,
        data_block=block,
    )


def module_moves(plan: HandoverPlan) -> Sequence[str]:
    """Moved resources inside child modules: their outputs may feed the root (not scanned)."""
    return sorted(
        {m.old.resource for m in plan.moves if m.old and m.old.resource.startswith("module.")}
    )
