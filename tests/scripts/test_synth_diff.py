"""synth-diff: unit tests on small handmade trees, then on real `cdktf synth` output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from environments import REPO_ROOT
from scripts.cli import main
from scripts.errors import EXIT_BAD_INPUT, BadInputError
from scripts.infra import synth_diff

# ---------------------------------------------------------------- handmade trees


def _meta(path: str) -> dict[str, Any]:
    return {"metadata": {"path": path, "uniqueId": path.replace("/", "_")}}


def _function(memory: int = 512, path: str = "s/fn") -> dict[str, Any]:
    return {
        "//": _meta(path),
        "function_name": "demo-fn",
        "memory_size": memory,
        "timeout": 30,
        "environment": {"variables": {"A": "1"}},
    }


def _stack(**resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "//": {"metadata": {"stackName": "s", "version": "0.21.0"}},
        "provider": {"aws": [{"region": "us-west-2"}]},
        "terraform": {"required_providers": {"aws": {"source": "aws", "version": "6.25.0"}}},
        "data": {"aws_s3_bucket": {"bucket": {"//": _meta("s/bucket"), "bucket": "b"}}},
        "resource": {"aws_lambda_function": resources},
        "output": {"names": {"value": sorted(resources)}},
    }


def _write_tree(root: Path, stacks: dict[str, dict[str, Any]], *, manifest: bool = True) -> Path:
    out = root / "cdktf.out"
    for name, content in stacks.items():
        target = out / "stacks" / name / "cdk.tf.json"
        target.parent.mkdir(parents=True)
        target.write_text(json.dumps(content, indent=2))
    if manifest:
        entries = {
            name: {"name": name, "synthesizedStackPath": f"stacks/{name}/cdk.tf.json"}
            for name in stacks
        }
        (out / "manifest.json").write_text(json.dumps({"stacks": entries, "version": "0.21.0"}))
    return out


def test_identical_stacks_report_no_changes() -> None:
    stack = _stack(fn=_function())
    diff = synth_diff.diff_stacks({"s": stack}, {"s": json.loads(json.dumps(stack))})
    assert not diff.has_changes
    markdown = synth_diff.to_markdown(diff)
    assert "### `s`\n\nNo changes" in markdown
    assert "0 added, 0 removed, 0 changed" in markdown


def test_metadata_only_differences_are_ignored() -> None:
    base = _stack(fn=_function(path="s/old/fn"))
    head = _stack(fn=_function(path="s/new/fn"))
    head["//"] = {"metadata": {"stackName": "s", "version": "0.22.0"}}
    assert synth_diff.diff_stack(base, head) == ()


def test_changed_resource_names_its_changed_attributes() -> None:
    base = _stack(fn=_function(memory=512))
    head = _stack(fn=_function(memory=1024))
    head["resource"]["aws_lambda_function"]["fn"]["environment"]["variables"]["A"] = "2"
    changes = synth_diff.diff_stack(base, head)
    assert changes == (
        synth_diff.ItemChange(
            address="aws_lambda_function.fn",
            change="changed",
            attributes=("environment", "memory_size"),
        ),
    )


def test_added_and_removed_resources_data_and_outputs() -> None:
    base = _stack(old=_function())
    head = _stack(new=_function())
    del head["data"]["aws_s3_bucket"]
    head["data"]["aws_iam_policy_document"] = {"doc": {"statement": []}}
    diff = synth_diff.diff_stacks({"s": base}, {"s": head})
    stack = diff.stack("s")
    assert [c.address for c in stack.of("added")] == [
        "aws_lambda_function.new",
        "data.aws_iam_policy_document.doc",
    ]
    assert [c.address for c in stack.of("removed")] == [
        "aws_lambda_function.old",
        "data.aws_s3_bucket.bucket",
    ]
    assert [(c.address, c.attributes) for c in stack.of("changed")] == [
        ("output.names", ("value",))
    ]
    assert stack.counts == {"added": 2, "removed": 2, "changed": 1}


def test_provider_and_terraform_block_changes_are_reported() -> None:
    base = _stack(fn=_function())
    head = _stack(fn=_function())
    head["provider"]["aws"][0]["region"] = "eu-west-1"
    head["terraform"]["required_providers"]["aws"]["version"] = ">= 5.100.0"
    addresses = [c.address for c in synth_diff.diff_stack(base, head)]
    assert addresses == ["provider.aws", "terraform"]


def test_new_and_removed_stacks_list_all_their_items() -> None:
    diff = synth_diff.diff_stacks({"old": _stack(fn=_function())}, {"new": _stack()})
    assert [(s.name, s.status) for s in diff.stacks] == [("new", "added"), ("old", "removed")]
    assert {c.change for c in diff.stack("old").changes} == {"removed"}
    assert {c.change for c in diff.stack("new").changes} == {"added"}
    markdown = synth_diff.to_markdown(diff)
    assert "### `new` (new stack)" in markdown
    assert "### `old` (stack removed)" in markdown
    assert "| - | `aws_lambda_function.fn` |  |" in markdown


def test_markdown_table_marks_each_kind(tmp_path: Path) -> None:
    base = _write_tree(tmp_path / "base", {"s": _stack(a=_function(), b=_function())})
    head = _write_tree(tmp_path / "head", {"s": _stack(a=_function(1024), c=_function())})
    markdown = synth_diff.to_markdown(synth_diff.diff_dirs(base, head))
    assert "## Synth diff: 1 stacks, 1 added, 1 removed, 2 changed" in markdown
    assert "| ~ | `aws_lambda_function.a` | `memory_size` |" in markdown
    assert "| - | `aws_lambda_function.b` |  |" in markdown
    assert "| + | `aws_lambda_function.c` |  |" in markdown


def test_tree_without_manifest_and_project_dir_are_accepted(tmp_path: Path) -> None:
    _write_tree(tmp_path / "base", {"s": _stack(fn=_function())}, manifest=False)
    head_out = _write_tree(tmp_path / "head", {"s": _stack(fn=_function(2048))})
    # The project directory (parent of cdktf.out) on one side, cdktf.out on the other.
    diff = synth_diff.diff_dirs(tmp_path / "base", head_out)
    assert [c.address for c in diff.stack("s").changes] == ["aws_lambda_function.fn"]


def test_missing_directory_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="run `npx cdktf synth` there first"):
        synth_diff.load_tree(tmp_path / "nope")


def test_directory_without_stacks_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="no stacks"):
        synth_diff.load_tree(tmp_path)


def test_manifest_listing_a_missing_stack_file_is_bad_input(tmp_path: Path) -> None:
    out = _write_tree(tmp_path, {"s": _stack()})
    (out / "stacks" / "s" / "cdk.tf.json").unlink()
    with pytest.raises(BadInputError, match="missing; synthesize again"):
        synth_diff.load_tree(out)


def test_cli_exit_codes_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = _write_tree(tmp_path / "base", {"s": _stack(fn=_function())})
    head = _write_tree(tmp_path / "head", {"s": _stack(fn=_function(256))})

    assert main(["synth-diff", str(tmp_path / "missing"), str(head)]) == EXIT_BAD_INPUT
    assert "missing: no such directory" in capsys.readouterr().err

    assert main(["synth-diff", str(base), str(head), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["has_changes"] is True
    assert result["stacks"]["s"]["changed"] == {"aws_lambda_function.fn": ["memory_size"]}

    assert main(["synth-diff", str(base), str(head)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("## Synth diff:")
    assert "`memory_size`" in out


# ---------------------------------------------------------------- real synth output

# One subprocess synthesizes every variant of the staging stack through the project's own
# stack class; only the Environment differs. A subprocess keeps the jsii runtime and the
# provider bindings (hundreds of MB) out of the test process.
_SYNTH_VARIANTS = textwrap.dedent(
    """
    import sys
    from dataclasses import replace
    from pathlib import Path

    from cdktf import App

    from environments import FunctionConfig, get_environment
    from infra_constructs import _aws
    from stacks.lambda_layers_stack import LambdaLayersStack

    out = Path(sys.argv[1])
    base = get_environment("staging")
    bigger_api = tuple(
        replace(f, memory_mb=f.memory_mb * 2) if f.name == "api" else f for f in base.functions
    )
    reports = FunctionConfig(name="reports", handler="app.reports.handler", memory_mb=256)
    variants = {
        "base": base,
        "base_again": base,
        "memory": replace(base, functions=bigger_api),
        "new_function": replace(base, functions=(*base.functions, reports)),
    }
    _aws.load_provider(fast=True)
    for name, env in variants.items():
        (out / name).mkdir()
        app = App(outdir=str(out / name / "cdktf.out"))
        LambdaLayersStack(app, env.name, environment=env)
        app.synth()
    """
)


@pytest.fixture(scope="session")
def synth_variants(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth-variants")
    env = {
        **os.environ,
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "CHECKPOINT_DISABLE": "1",
    }
    subprocess.run(
        [sys.executable, "-c", _SYNTH_VARIANTS, str(out)],
        cwd=REPO_ROOT,
        env=env,
        check=True,
        timeout=300,
    )
    return out


def _staging(root: Path) -> dict[str, Any]:
    stack: dict[str, Any] = json.loads(
        (root / "cdktf.out" / "stacks" / "staging" / "cdk.tf.json").read_text()
    )
    return stack


def _function_address(stack: dict[str, Any], function_name: str) -> str:
    matches = [
        f"aws_lambda_function.{name}"
        for name, config in stack["resource"]["aws_lambda_function"].items()
        if config["function_name"] == function_name
    ]
    assert len(matches) == 1, matches
    return matches[0]


def test_real_synth_twice_has_no_changes(synth_variants: Path) -> None:
    diff = synth_diff.diff_dirs(synth_variants / "base", synth_variants / "base_again")
    assert [s.name for s in diff.stacks] == ["staging"]
    assert not diff.has_changes
    assert "No changes" in synth_diff.to_markdown(diff)


def test_real_memory_change_is_one_changed_function(synth_variants: Path) -> None:
    diff = synth_diff.diff_dirs(synth_variants / "base", synth_variants / "memory")
    api = _function_address(_staging(synth_variants / "base"), "bluemoxon-staging-api")
    assert diff.stack("staging").changes == (
        synth_diff.ItemChange(address=api, change="changed", attributes=("memory_size",)),
    )


def test_real_new_function_is_added_with_its_own_resources(synth_variants: Path) -> None:
    head = synth_variants / "new_function"
    diff = synth_diff.diff_dirs(synth_variants / "base", head).stack("staging")
    reports = _function_address(_staging(head), "bluemoxon-staging-reports")
    added = [c.address for c in diff.of("added")]

    assert reports in added
    assert reports.startswith("aws_lambda_function.function_reports_function_")
    # Everything added belongs to the new function: its role, log group, their policies
    # and its alias.
    assert all("function_reports_" in a for a in added), added
    assert sorted(a.rsplit(".", 1)[0] for a in added) == [
        "aws_cloudwatch_log_group",
        "aws_iam_role",
        "aws_iam_role_policy",
        "aws_lambda_alias",
        "aws_lambda_function",
        "data.aws_iam_policy_document",
        "data.aws_iam_policy_document",
    ]
    assert diff.of("removed") == ()
    # What lists every function changes too: the deployer policy and the outputs.
    changed = sorted(c.address for c in diff.of("changed"))
    assert len(changed) == 3, changed
    assert changed[0].startswith("data.aws_iam_policy_document.deployer_policy_document_")
    assert changed[1:] == ["output.alias_arns", "output.function_names"]


def test_real_cli_markdown(synth_variants: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base, head = synth_variants / "base", synth_variants / "memory"
    assert main(["synth-diff", str(base / "cdktf.out"), str(head / "cdktf.out")]) == 0
    markdown = capsys.readouterr().out
    assert "### `staging`\n\n0 added, 0 removed, 1 changed" in markdown
    assert "`memory_size`" in markdown
