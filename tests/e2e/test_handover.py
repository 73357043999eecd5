"""End to end: the state hand-over from the legacy root (plain Terraform, its own state) to
the `legacy` stack that adopted its functions, with real terraform against moto.

`migrate --handover` writes the removed blocks and lists what to change in the old root;
the test then does what the platform team would (delete the moved resources' blocks,
replace each listed reference as told), runs it again, and checks the proof: the old
root's plan forgets exactly the moved instances and destroys nothing, applying it leaves
every function in AWS, and both roots then plan no change.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest

from environments import REPO_ROOT

from .adoption import AdoptedWorld, run, run_ok

pytestmark = pytest.mark.e2e

MOVED = [
    "aws_cloudwatch_event_rule.cleanup",
    "aws_cloudwatch_event_target.cleanup",
    "aws_cloudwatch_log_group.fn",
    "aws_iam_role.cleanup",
    "aws_iam_role_policy.cleanup",
    "aws_iam_role_policy_attachment.cleanup",
    "aws_lambda_alias.api_live",
    "aws_lambda_event_source_mapping.runbooks",
    "aws_lambda_function.fn",
    "aws_lambda_permission.api_gateway",
]


def _handover(world: AdoptedWorld) -> dict[str, Any]:
    done = run(
        [
            sys.executable,
            "-m",
            "scripts",
            "migrate",
            "--env",
            "legacy",
            "--handover",
            str(world.legacy_dir),
            "--stack-dir",
            str(world.stack_dir),
            "--json",
        ],
        cwd=REPO_ROOT,
        environ=world.environ,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    print(done.stderr)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _delete_block(text: str, resource: str) -> str:
    """What a person does in the editor: the resource's block, to its closing brace."""
    type_, name = resource.split(".")
    start = text.index(f'resource "{type_}" "{name}" {{')
    end = text.index("\n}\n", start) + 3
    return text[:start] + text[end:]


def _follow_instructions(world: AdoptedWorld, result: dict[str, Any]) -> None:
    main = world.legacy_dir / "main.tf"
    lines = main.read_text().splitlines(keepends=True)
    for ref in result["references"]:
        assert ref["file"] == "main.tf"
        assert not ref["replacement"].startswith("("), ref
        index = ref["line"] - 1
        lines[index] = lines[index].replace(ref["expression"], ref["replacement"])
    text = "".join(lines)
    for resource in result["removed"]:
        text = _delete_block(text, resource)
    main.write_text(text)
    blocks = sorted({r["data"] for r in result["references"] if r["data"]})
    (world.legacy_dir / "handover_data.tf").write_text("\n\n".join(blocks) + "\n")


def _pending(world: AdoptedWorld, where: Path) -> set[str]:
    """Addresses a fresh plan in `where` would change (not no-op, not read)."""
    terraform = world.tools.terraform
    run_ok(
        [terraform, "plan", "-input=false", "-no-color", "-out=drift.tfplan"],
        cwd=where,
        environ=world.environ,
    )
    shown = run_ok([terraform, "show", "-json", "drift.tfplan"], cwd=where, environ=world.environ)
    return {
        c["address"]
        for c in json.loads(shown).get("resource_changes", [])
        if c["change"]["actions"] not in (["no-op"], ["read"])
    }


def test_handover_forgets_exactly_the_adopted_resources_and_destroys_nothing(
    adopted_world: AdoptedWorld,
) -> None:
    world = adopted_world
    # The old root's own inputs, as its tfvars would give them.
    (world.legacy_dir / "terraform.tfvars").write_text(
        f'endpoint = "{world.endpoint}"\npackage_zip = "{world.fat_package}"\n'
    )
    # What the old root would change anyway: the resources our stack adopted and changed
    # (layers, the alias as target), and the queue's redrive JSON (moto and the provider
    # disagree on its whitespace). The hand-over must add nothing to it.
    drift_before = _pending(world, world.legacy_dir)
    first = _handover(world)
    assert first["removed"] == MOVED and first["state_rm"] == []
    text = (world.legacy_dir / "layers_handover.tf").read_text()
    assert text.count("destroy = false") == len(MOVED)
    # Terraform refuses the removed blocks while the resources are still declared.
    assert first["old_root"]["state"] == "todo" and first["done"] is False
    found = {(r["expression"], r["replacement"]) for r in first["references"]}
    assert (
        'aws_lambda_function.fn["cleanup"].function_name',
        "data.aws_lambda_function.fn_cleanup.function_name",
    ) in found
    assert (
        "aws_cloudwatch_event_rule.cleanup.arn",
        '"arn:aws:events:us-west-2:123456789012:rule/bluemoxon-legacy-cleanup-schedule"',
    ) in found
    assert any(e == "aws_lambda_event_source_mapping.runbooks.uuid" for e, _ in found)

    _follow_instructions(world, first)
    second = _handover(world)
    old = second["old_root"]
    assert old["state"] == "done", old
    assert old["destroyed"] == [] and old["forget_mismatch"] == []
    moved_instances = {m["old"] for m in second["moves"] if m["old"]}
    assert set(old["forgotten"]) == moved_instances
    assert len(moved_instances) == 4 + 4 + 1 + 1 + 1 + 2 + 1 + 1 + 1 + 1
    assert second["our_stack"]["state"] == "done" and second["done"] is True

    terraform = world.tools.terraform
    run_ok(
        [terraform, "apply", "-input=false", "-no-color", "layers-handover.tfplan"],
        cwd=world.legacy_dir,
        environ=world.environ,
    )
    listed = run_ok([terraform, "state", "list"], cwd=world.legacy_dir, environ=world.environ)
    assert not any(line.startswith(tuple(MOVED)) for line in listed.splitlines())
    lam = boto3.client(
        "lambda",
        endpoint_url=world.endpoint,
        region_name="us-west-2",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    for name in world.env.function_names:
        assert lam.get_function(FunctionName=name)["Configuration"]["State"] == "Active"
    # Only what was drifting anyway, less what moved (our stack changed those on purpose).
    assert _pending(world, world.legacy_dir) == drift_before - moved_instances
    for where in (world.stack_dir,):
        plan = subprocess.run(
            [terraform, "plan", "-detailed-exitcode", "-input=false", "-no-color"],
            cwd=where,
            env=world.environ,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        assert plan.returncode == 0, f"{where}: {plan.stdout[-3000:]}{plan.stderr[-2000:]}"
    assert re.search(r"removed \{", text)
