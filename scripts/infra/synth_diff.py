"""`synth-diff BASE_DIR HEAD_DIR`: what a pull request changes in the synthesized stacks.

Reviewers of a CDKTF change read the synthesized JSON, not the Python: a resource renamed
by a construct-path change is a destroy and a create, and a changed memory size is one
attribute. A text diff of two `cdk.tf.json` files buries that under cdktf's `//` metadata
and reordered keys, so this compares them as Terraform sees them: per stack, per address
(`type.name` for resources, `data.type.name`, `output.name`, ...), and says which
top-level attributes of a changed item differ.

Pure functions over parsed JSON (`diff_stacks`) with a thin loader (`load_tree`); it
never imports cdktf, so it runs in a second before the synth of the head is even done.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from scripts.errors import BadInputError

METADATA_KEY = "//"
MANIFEST = "manifest.json"
STACK_FILE = "cdk.tf.json"

# Blocks keyed by type, then name: the address is `type.name` (data sources get `data.`).
_TWO_LEVEL = {"resource": "", "data": "data."}
# Blocks keyed by name only: the address is `kind.name`.
_ONE_LEVEL = {
    "output": "output.",
    "variable": "var.",
    "module": "module.",
    "locals": "local.",
    "provider": "provider.",
}
# The `terraform` block (backend, required providers) is one item.
_SINGLE = "terraform"

ChangeKind = Literal["added", "removed", "changed"]
StackStatus = Literal["added", "removed", "present"]


@dataclass(frozen=True, kw_only=True)
class ItemChange:
    """One address that differs; `attributes` lists the changed top-level keys."""

    address: str
    change: ChangeKind
    attributes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.change != "changed" and self.attributes:
            raise ValueError(f"{self.address}: only a changed item lists attributes")


@dataclass(frozen=True, kw_only=True)
class StackDiff:
    name: str
    status: StackStatus
    changes: tuple[ItemChange, ...]

    def of(self, change: ChangeKind) -> tuple[ItemChange, ...]:
        return tuple(c for c in self.changes if c.change == change)

    @property
    def counts(self) -> dict[str, int]:
        return {kind: len(self.of(kind)) for kind in ("added", "removed", "changed")}


@dataclass(frozen=True, kw_only=True)
class SynthDiff:
    stacks: tuple[StackDiff, ...]

    @property
    def has_changes(self) -> bool:
        return any(s.changes or s.status != "present" for s in self.stacks)

    def stack(self, name: str) -> StackDiff:
        for stack in self.stacks:
            if stack.name == name:
                return stack
        raise KeyError(name)


def strip_metadata(value: Any) -> Any:
    """Drop cdktf's `//` keys (construct path, unique id) at every depth.

    They change when nothing Terraform acts on changes, e.g. a construct moved in the tree
    while keeping its id via an override.
    """
    if isinstance(value, Mapping):
        return {k: strip_metadata(v) for k, v in value.items() if k != METADATA_KEY}
    if isinstance(value, list):
        return [strip_metadata(v) for v in value]
    return value


def items(stack_json: Mapping[str, Any]) -> dict[str, Any]:
    """Flatten one synthesized stack into `address -> configuration`, metadata stripped."""
    flat: dict[str, Any] = {}
    for block, prefix in _TWO_LEVEL.items():
        for type_name, by_name in _mapping(stack_json.get(block)).items():
            for name, config in _mapping(by_name).items():
                flat[f"{prefix}{type_name}.{name}"] = strip_metadata(config)
    for block, prefix in _ONE_LEVEL.items():
        for name, config in _mapping(stack_json.get(block)).items():
            flat[f"{prefix}{name}"] = strip_metadata(config)
    if _SINGLE in stack_json:
        flat[_SINGLE] = strip_metadata(stack_json[_SINGLE])
    return flat


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


_MISSING = object()


def _changed_attributes(base: Any, head: Any) -> tuple[str, ...]:
    if isinstance(base, Mapping) and isinstance(head, Mapping):
        keys = set(base) | set(head)
        return tuple(sorted(k for k in keys if base.get(k, _MISSING) != head.get(k, _MISSING)))
    # A provider block is a list of configurations; nothing finer to name.
    return ()


def diff_stack(base: Mapping[str, Any], head: Mapping[str, Any]) -> tuple[ItemChange, ...]:
    """Address-level changes between two synthesized stacks, sorted by address."""
    before, after = items(base), items(head)
    changes: list[ItemChange] = []
    for address in sorted(set(before) | set(after)):
        if address not in before:
            changes.append(ItemChange(address=address, change="added"))
        elif address not in after:
            changes.append(ItemChange(address=address, change="removed"))
        elif before[address] != after[address]:
            changes.append(
                ItemChange(
                    address=address,
                    change="changed",
                    attributes=_changed_attributes(before[address], after[address]),
                )
            )
    return tuple(changes)


def diff_stacks(
    base: Mapping[str, Mapping[str, Any]], head: Mapping[str, Mapping[str, Any]]
) -> SynthDiff:
    """Compare two sets of stacks (`name -> cdk.tf.json` content); new and gone stacks too."""
    stacks: list[StackDiff] = []
    for name in sorted(set(base) | set(head)):
        status: StackStatus = (
            "added" if name not in base else "removed" if name not in head else "present"
        )
        changes = diff_stack(base.get(name, {}), head.get(name, {}))
        stacks.append(StackDiff(name=name, status=status, changes=changes))
    return SynthDiff(stacks=tuple(stacks))


def resolve_out_dir(path: Path) -> Path:
    """Accept the `cdktf.out` directory itself or a project directory that holds one."""
    if not path.is_dir():
        raise BadInputError(f"{path}: no such directory; run `npx cdktf synth` there first")
    nested = path / "cdktf.out"
    if not (path / MANIFEST).is_file() and not (path / "stacks").is_dir() and nested.is_dir():
        return nested
    return path


def _stack_files(out_dir: Path) -> Iterator[tuple[str, Path]]:
    manifest = out_dir / MANIFEST
    if manifest.is_file():
        try:
            stacks = json.loads(manifest.read_text(encoding="utf-8")).get("stacks", {})
        except json.JSONDecodeError as err:
            raise BadInputError(f"{manifest}: not JSON ({err}); synthesize again") from err
        for name, entry in sorted(stacks.items()):
            relative = entry.get("synthesizedStackPath", f"stacks/{name}/{STACK_FILE}")
            yield name, out_dir / relative
        return
    for stack_file in sorted(out_dir.glob(f"stacks/*/{STACK_FILE}")):
        yield stack_file.parent.name, stack_file


def load_tree(path: Path) -> dict[str, dict[str, Any]]:
    """Read every stack of one synth output; `path` is `cdktf.out` or its parent."""
    out_dir = resolve_out_dir(path)
    stacks: dict[str, dict[str, Any]] = {}
    for name, stack_file in _stack_files(out_dir):
        if not stack_file.is_file():
            raise BadInputError(
                f"{stack_file}: listed in {out_dir / MANIFEST} but missing; synthesize again"
            )
        try:
            stacks[name] = json.loads(stack_file.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise BadInputError(f"{stack_file}: not JSON ({err}); synthesize again") from err
    if not stacks:
        raise BadInputError(
            f"{out_dir}: no stacks (no {MANIFEST} nor stacks/*/{STACK_FILE}); "
            "run `npx cdktf synth` first"
        )
    return stacks


def diff_dirs(base_dir: Path, head_dir: Path) -> SynthDiff:
    return diff_stacks(load_tree(base_dir), load_tree(head_dir))


_STATUS_NOTE = {"added": " (new stack)", "removed": " (stack removed)", "present": ""}
_SYMBOL = {"added": "+", "removed": "-", "changed": "~"}


def _summary(counts: Mapping[str, int]) -> str:
    return f"{counts['added']} added, {counts['removed']} removed, {counts['changed']} changed"


def to_markdown(diff: SynthDiff) -> str:
    """The job summary: one heading per stack, a count line, then a table of addresses."""
    total = {
        kind: sum(s.counts[kind] for s in diff.stacks) for kind in ("added", "removed", "changed")
    }
    lines = [f"## Synth diff: {len(diff.stacks)} stacks, {_summary(total)}", ""]
    for stack in diff.stacks:
        lines.append(f"### `{stack.name}`{_STATUS_NOTE[stack.status]}")
        lines.append("")
        if not stack.changes:
            lines.extend(["No changes", ""])
            continue
        lines.extend(
            [
                _summary(stack.counts),
                "",
                "| | address | changed attributes |",
                "| --- | --- | --- |",
            ]
        )
        for change in stack.changes:
            attributes = ", ".join(f"`{a}`" for a in change.attributes)
            lines.append(f"| {_SYMBOL[change.change]} | `{change.address}` | {attributes} |")
        lines.append("")
    return "\n".join(lines)


def to_json(diff: SynthDiff) -> dict[str, Any]:
    return {
        "has_changes": diff.has_changes,
        "stacks": {
            stack.name: {
                "status": stack.status,
                **stack.counts,
                "added_addresses": [c.address for c in stack.of("added")],
                "removed_addresses": [c.address for c in stack.of("removed")],
                "changed": {c.address: list(c.attributes) for c in stack.of("changed")},
            }
            for stack in diff.stacks
        },
    }
