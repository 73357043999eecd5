"""What in the old root still reads a resource that moves, and the data source to read
it with instead.

The old root's `.tf` files (its root module) are scanned for `TYPE.NAME.` references to a
moved resource outside that resource's own block and outside the other moved resources'
blocks (those go too). Each is listed with its file and line and the `data` block that
replaces it, filled with the resource's identity from the state. A module call that moves
whole (its block goes) is followed one step: `module.api.invoke_arn` is read through the
module's own `output "invoke_arn" { value = aws_lambda_function.this.invoke_arn }` (a
local `source` only) and replaced like a reference to that resource. A moved resource in a
module that stays in part is listed with its module: its outputs are not followed.
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
_MODULE = re.compile(r'^\s*module\s+"(?P<name>[\w-]+)"\s*\{', re.M)
_OUTPUT = re.compile(r'^\s*output\s+"(?P<name>[\w-]+)"\s*\{', re.M)
_OUTPUT_VALUE = re.compile(
    r"^\s*value\s*=\s*(?P<type>\w+)\.(?P<label>\w+)\.(?P<attr>\w+)\s*$", re.M
)


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
    """Every root-module reference to a resource or module call that moves, with its
    replacement."""
    instances = {
        m.old.address: m.old
        for m in plan.moves
        if m.old is not None and not m.old.address.startswith("module.")
    }
    resources = sorted({i.resource for i in instances.values()})
    modules = sorted(r.split(".", 1)[1] for r in plan.removed if r.startswith("module."))
    outputs = {name: _module_outputs(root, name) for name in modules}  # read once
    found: list[Reference] = []
    for path in sorted(root.glob("*.tf")):
        if path.name == HANDOVER_FILE:
            continue
        text = path.read_text(encoding="utf-8")
        spans = [
            (m.start(), _block_end(text, m.start()))
            for m in _BLOCK.finditer(text)
            if f"{m['type']}.{m['name']}" in resources
        ] + [
            (m.start(), _block_end(text, m.start()))
            for m in _MODULE.finditer(text)
            if m["name"] in modules
        ]
        for resource in resources:
            for hit in _hits(text, resource, spans):
                instance = instances.get(resource + (hit.group(1) or "")) or next(
                    i for i in instances.values() if i.resource == resource
                )
                label = instance.resource.split(".", 1)[1]
                found.append(
                    _reference(path, text, hit, instance, label=label, attribute=hit.group(2))
                )
        for name in modules:
            for hit in _hits(text, f"module.{name}", spans):
                found.append(
                    _module_reference(path, text, hit, plan, name=name, outputs=outputs[name])
                )
    return found


def _hits(text: str, address: str, spans: Sequence[tuple[int, int]]) -> list[re.Match[str]]:
    """`address`, `address[KEY]`, each with an optional `.attribute`, outside `spans`."""
    pattern = re.compile(rf"(?<![\w.]){re.escape(address)}(\[[^\]]*\])?(?:\.(\w+))?(?!\w)")
    return [h for h in pattern.finditer(text) if not any(a <= h.start() < b for a, b in spans)]


def _module_outputs(root: Path, name: str) -> dict[str, tuple[str, str, str]]:
    """output -> (type, label, attribute) for each output of module call `name` that reads
    one attribute of one resource; {} for a module not sourced from a local folder."""
    for path in sorted(root.glob("*.tf")):
        text = path.read_text(encoding="utf-8")
        call = next((m for m in _MODULE.finditer(text) if m["name"] == name), None)
        if call is None:
            continue
        source = re.search(
            r'^\s*source\s*=\s*"(\.[^"]*)"',
            text[call.start() : _block_end(text, call.start())],
            re.M,
        )
        if source is None or not (root / source[1]).is_dir():
            return {}
        outputs: dict[str, tuple[str, str, str]] = {}
        for module_file in sorted((root / source[1]).glob("*.tf")):
            body = module_file.read_text(encoding="utf-8")
            for output in _OUTPUT.finditer(body):
                value = _OUTPUT_VALUE.search(
                    body[output.start() : _block_end(body, output.start())]
                )
                if value is not None:
                    outputs[output["name"]] = (value["type"], value["label"], value["attr"])
        return outputs
    return {}


def _module_reference(
    path: Path,
    text: str,
    hit: re.Match[str],
    plan: HandoverPlan,
    *,
    name: str,
    outputs: Mapping[str, tuple[str, str, str]],
) -> Reference:
    """A reference to a moved module call's output: the resource behind the output."""
    read = outputs.get(hit.group(2) or "")
    prefix = f"module.{name}{hit.group(1) or ''}."
    instance = None
    if read is not None:
        type_, label, _ = read
        instance = next(
            (
                m.old
                for m in plan.moves
                if m.old is not None
                and m.old.address.startswith(prefix)
                and m.old.resource == f"{prefix}{type_}.{label}"
            ),
            None,
        )
    if read is None or instance is None:
        return _reference(path, text, hit, None, label=name, attribute=hit.group(2))
    return _reference(path, text, hit, instance, label=name, attribute=read[2])


def _reference(
    path: Path,
    text: str,
    hit: re.Match[str],
    instance: Instance | None,
    *,
    label: str,
    attribute: str | None,
) -> Reference:
    key = re.sub(r"\W+", "_", hit.group(1) or "").strip("_")
    label = re.sub(r"\W+", "_", f"{label}_{key}" if key else label)
    line = text.count("\n", 0, hit.start()) + 1
    type_ = instance.type if instance is not None else ""
    values = instance.values if instance is not None else {}
    data = _data_block(type_, label, values)
    literal = values.get(attribute) if attribute else None
    block = ""
    if attribute is None:
        replacement = (
            "(drop it: a bare reference such as depends_on or a for expression over what leaves)"
        )
    elif instance is None:
        replacement = f"(the value of {hit.group(0)}: read it with a data source)"
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
    """Moved resources inside modules that stay in part: their outputs may feed the root
    (not followed)."""
    return sorted(
        {
            m.old.resource
            for m in plan.moves
            if m.old and m.old.owner.startswith("module.") and m.old.owner not in plan.removed
        }
    )
