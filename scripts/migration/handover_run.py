"""`migrate --handover DIR`: write the old root's `removed` blocks, then prove both plans.

1. `terraform show -json` in DIR: the old root's state; our stack's import blocks matched
   to it by identity (handover.py), `DIR/layers_handover.tf` written (atomically: a temp
   file in DIR, then a rename).
2. What still reads a moved resource there, with the data source replacing each
   reference (handover_refs.py).
3. Proof, once the moved resources' and module calls' blocks are deleted from DIR's code
   and the `state rm` commands run: `terraform plan` in DIR forgets exactly the moved
   instances, deletes or replaces nothing, still holds none it was told to `state rm` and
   creates none of them again (`judge_old_plan`); our stack's plan (plan-check) is refused
   for nothing and creates, deletes or replaces none of the adopted resources. Until then
   the step is "todo" and says what is left, where.

Safe to run again: the file is rewritten with the same text, and the proof is re-read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from environments import Environment
from scripts.atomic import write_atomically
from scripts.errors import BadInputError, ToolError
from scripts.infra import terraform as tf
from scripts.infra.plan_check import check_stack, parse_plan
from scripts.infra.plan_parse import Change
from scripts.migration.handover import (
    HANDOVER_FILE,
    HandoverPlan,
    imports_of,
    plan_handover,
    removed_blocks,
)
from scripts.migration.handover_refs import find_references, module_moves

OLD_PLAN = "layers-handover.tfplan"


class HandoverFailedError(ToolError):
    """A plan would destroy or forget the wrong things; the report says which."""

    def __init__(self, message: str, payload: Mapping[str, Any]) -> None:
        super().__init__(message)
        self.payload = dict(payload)

    def result(self) -> dict[str, Any]:
        return {**self.payload, "error": str(self)}


def _terraform(binary: str, args: list[str], cwd: Path, environ: Mapping[str, str]) -> Any:
    return tf._run(binary, args, cwd=cwd, environ=environ)


def old_state(old_dir: Path, binary: str, environ: Mapping[str, str]) -> dict[str, Any]:
    if not any(old_dir.glob("*.tf")):
        raise BadInputError(f"--handover {old_dir}: no Terraform files there; give the old root")
    if not (old_dir / ".terraform").is_dir():
        init = _terraform(binary, ["init", "-input=false", "-no-color"], old_dir, environ)
        if init.returncode != 0:
            raise ToolError(f"terraform init failed in {old_dir}: {tf._first_error(init)}")
    shown = _terraform(binary, ["show", "-json"], old_dir, environ)
    if shown.returncode != 0:
        raise ToolError(f"terraform show -json failed in {old_dir}: {tf._first_error(shown)}")
    state: dict[str, Any] = json.loads(shown.stdout or "{}")
    if not state.get("values"):
        raise BadInputError(f"--handover {old_dir}: its state is empty; is this the old root?")
    return state


def prove_old_root(
    old_dir: Path, plan: HandoverPlan, binary: str, environ: Mapping[str, str]
) -> dict[str, Any]:
    """Plan in the old root: exactly the moved instances forgotten, nothing destroyed."""
    planned = _terraform(
        binary, ["plan", "-input=false", "-json", f"-out={OLD_PLAN}"], old_dir, environ
    )
    if planned.returncode != 0:
        return {"state": "todo", "error": tf._first_error(planned)}
    shown = _terraform(binary, ["show", "-json", OLD_PLAN], old_dir, environ)
    return judge_old_plan(plan, parse_plan(json.loads(shown.stdout)))


def judge_old_plan(plan: HandoverPlan, changes: Sequence[Change]) -> dict[str, Any]:
    """The old root's plan against the hand-over: the removed blocks forget exactly their
    instances, nothing is destroyed, no `state rm` is left undone (the old root would
    still own, and its next apply revert, what our stack changed) and nothing our stack
    adopts is created there again (a key left in a for_each after its `state rm`)."""
    expected = set(plan.by_removed_block)
    forgotten = {c.address for c in changes if c.action == "forget"}
    destroyed = sorted(c.address for c in changes if c.action in ("delete", "replace"))
    wrong = sorted(forgotten ^ expected)
    still_held = sorted(c.address for c in changes if c.address in plan.state_rm)
    adopted_types = {m.type for m in plan.moves}
    created = sorted(c.address for c in changes if c.action == "create" and c.type in adopted_types)
    state = "done"
    if still_held or created:
        state = "todo"
    if destroyed or wrong:
        state = "failed"
    return {
        "state": state,
        "forgotten": sorted(forgotten),
        "destroyed": destroyed,
        "forget_mismatch": wrong,
        "state_rm_pending": still_held,
        "created_again": created,
        "other_changes": sorted(
            f"{c.address} ({c.action})"
            for c in changes
            if c.action not in ("no-op", "read", "forget", "delete", "replace")
        ),
    }


def prove_our_stack(
    stack_dir: Path,
    env: Environment,
    plan: HandoverPlan,
    *,
    allow: Sequence[str],
    environ: Mapping[str, str],
) -> dict[str, Any]:
    report = check_stack(stack_dir, env, allow=allow, environ=environ)
    ours = {m.ours for m in plan.moves}
    bad = sorted(
        f"{c.address} ({c.action})"
        for c in report.changes
        if c.address in ours and c.action in ("create", "delete", "replace")
    )
    return {
        "state": "done" if report.ok and not bad else "failed",
        "summary": report.summary,
        "refusals": [r.line() for r in report.refusals],
        "adopted_not_imported": bad,
    }


def handover(
    env: Environment,
    *,
    old_dir: Path,
    stack_dir: Path,
    environ: Mapping[str, str],
    allow: Sequence[str] = (),
    terraform: str | None = None,
) -> dict[str, Any]:
    binary = tf.require_terraform(terraform)
    plan = plan_handover(imports_of(tf.stack_file(stack_dir)), old_state(old_dir, binary, environ))
    write_atomically(old_dir / HANDOVER_FILE, removed_blocks(plan, env_name=env.name))
    references = find_references(old_dir, plan)
    old = prove_old_root(old_dir, plan, binary, environ)
    result: dict[str, Any] = {
        "env": env.name,
        "handover_file": str(old_dir / HANDOVER_FILE),
        "removed": list(plan.removed),
        "state_rm": [f"terraform state rm '{a}'" for a in plan.state_rm],
        "moves": [
            {"ours": m.ours, "import_id": m.import_id, "old": m.old.address if m.old else None}
            for m in plan.moves
        ],
        "references": [
            {
                "file": r.file,
                "line": r.line,
                "expression": r.expression,
                "replacement": r.replacement,
                "data": r.data_block,
            }
            for r in references
        ],
        "module_resources": list(module_moves(plan)),
        "old_root": old,
    }
    if old["state"] == "failed":
        raise HandoverFailedError(
            f"the old root's plan would destroy {old['destroyed'] or 'nothing'} and forget "
            f"the wrong things {old['forget_mismatch'] or '(none)'}",
            result,
        )
    if old["state"] == "done":
        result["our_stack"] = prove_our_stack(stack_dir, env, plan, allow=allow, environ=environ)
        if result["our_stack"]["state"] == "failed":
            raise HandoverFailedError(
                "our stack's plan does not adopt the moved resources unchanged: "
                + "; ".join(
                    result["our_stack"]["refusals"] + result["our_stack"]["adopted_not_imported"]
                ),
                result,
            )
    result["done"] = old["state"] == "done"
    return result


def lines(result: Mapping[str, Any]) -> list[str]:
    """What a person reads: the file, what to delete and replace, the proof."""
    found = [f"wrote {result['handover_file']}: {len(result['removed'])} removed blocks"]
    found += [f"  removed: {r}" for r in result["removed"]]
    found += [
        f"  run in the old root: {c} (and drop it from the code, or it is created again)"
        for c in result["state_rm"]
    ]
    missing = [m["import_id"] for m in result["moves"] if m["old"] is None]
    if missing:
        found.append(f"  not in the old root's state (nothing to forget): {', '.join(missing)}")
    for ref in result["references"]:
        found.append(f"  {ref['file']}:{ref['line']}: {ref['expression']} -> {ref['replacement']}")
        if ref["data"]:
            found.append("    with: " + ref["data"].replace("\n", " "))
    for resource in result["module_resources"]:
        found.append(f"  {resource}: inside a module; check that module's outputs' readers")
    old = result["old_root"]
    if old["state"] == "todo" and "error" in old:
        found.append(
            "next: delete the removed resources' and modules' blocks from the old root's code "
            "and replace the references above, then run again (terraform said: "
            f"{old['error']})"
        )
    elif old["state"] == "todo":
        found += [f"  still in the old root's state: {a}" for a in old["state_rm_pending"]]
        found += [
            f"  created again by the old root: {a}: drop its key from the code"
            for a in old["created_again"]
        ]
        found.append("next: run the state rm commands and drop those keys, then run again")
    else:
        found.append(f"old root plan: forgets {len(old['forgotten'])}, destroys nothing")
        ours = result.get("our_stack") or {}
        found.append(f"our stack's plan: {ours.get('summary', '')}")
    return found
