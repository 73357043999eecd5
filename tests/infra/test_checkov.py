"""checkov over every synthesized stack, with the committed .checkov.yaml.

checkov lives in its own venv (`make checkov`; its pins clash with ours). It is part of
the test command, so a missing checkov fails here instead of silently skipping.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from environments import ENVIRONMENTS

from .conftest import CHECKOV_CONFIG, REPO_ROOT, Synth, subprocess_env

# Every configured environment: a new one is checked without editing this file.
STACKS = tuple(ENVIRONMENTS)
# Skipped in .checkov.yaml because some environments do not configure them (yet); a stack
# whose every function configures it must pass the check with the skip lifted.
CONFIGURABLE = {"CKV_AWS_117": lambda env: all(f.vpc for f in env.functions)}


def checkov_bin() -> Path:
    path = Path(os.environ.get("CHECKOV_BIN") or REPO_ROOT / ".venv-checkov" / "bin" / "checkov")
    if not path.is_file():
        pytest.fail(f"checkov not found at {path}: run `make checkov` (or set CHECKOV_BIN)")
    return path


def run_checkov(args: list[str], files: list[Path]) -> dict[str, Any]:
    for path in files:
        args += ["-f", str(path)]
    # Run away from the checkout: checkov also reads a .checkov.yaml in its working directory.
    done = subprocess.run(
        args,
        capture_output=True,
        text=True,
        check=False,
        env=subprocess_env(),
        timeout=300,
        cwd=files[0].parent.parent,
    )
    # Exit 1 means failed checks (reported below); anything else is checkov itself failing.
    assert done.returncode in {0, 1}, done.stderr[-2000:]
    report: dict[str, Any] = json.loads(done.stdout)
    assert isinstance(report, dict), "expected one framework (terraform_json) in the report"
    return report


@pytest.fixture(scope="session")
def checkable(synth: Synth, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each stack as checkov can read it, in a directory named after its environment.

    checkov 3.3.30's terraform_json parser fails on two things adoption emits, both valid
    Terraform JSON: a list of import blocks and `terraform.required_version` (a string where
    it expects a block). Neither configures anything checkov checks, so they are left out of
    the copy it reads; everything else is the synthesized stack as it is.
    """
    root = tmp_path_factory.mktemp("checkov")
    files = {}
    for name in STACKS:
        stack = json.loads((synth.stack_dir(name) / "cdk.tf.json").read_text())
        stack.pop("import", None)
        stack.get("terraform", {}).pop("required_version", None)
        path = root / name / "cdk.tf.json"
        path.parent.mkdir()
        path.write_text(json.dumps(stack, indent=2))
        files[name] = path
    return files


@pytest.fixture(scope="session")
def checkov_report(checkable: dict[str, Path]) -> dict[str, Any]:
    args = [str(checkov_bin()), "--config-file", str(CHECKOV_CONFIG), "-o", "json"]
    return run_checkov(args, list(checkable.values()))


@pytest.mark.parametrize("check_id", sorted(CONFIGURABLE))
def test_configured_stacks_pass_checks_others_skip(
    checkable: dict[str, Path], check_id: str
) -> None:
    configured = [name for name, env in ENVIRONMENTS.items() if CONFIGURABLE[check_id](env)]
    assert configured, f"no environment configures what {check_id} checks"
    assert check_id in CHECKOV_CONFIG.read_text(), f"{check_id} is no longer skipped: drop it here"
    files = [checkable[name] for name in configured]
    args = [str(checkov_bin()), "--framework", "terraform_json", "--skip-download"]
    report = run_checkov([*args, "--check", check_id, "-o", "json"], files)
    assert report["summary"]["failed"] == 0, report["results"]["failed_checks"]
    assert report["summary"]["passed"] >= 4 * len(configured)


def test_checkov_parsed_every_stack(checkov_report: dict[str, Any]) -> None:
    summary = checkov_report["summary"]
    assert summary["parsing_errors"] == 0, checkov_report["results"].get("parsing_errors")
    assert summary["passed"] > 0, "checkov checked nothing"


@pytest.mark.parametrize("env_name", STACKS)
def test_checkov_ran_checks_on_each_stack(checkov_report: dict[str, Any], env_name: str) -> None:
    checked = Counter(
        Path(c["file_path"]).parent.name for c in checkov_report["results"]["passed_checks"]
    )
    assert checked[env_name] > 0, f"no check ran on {env_name}"
    # The IAM checks must be among them: they are what the deployer policy is about.
    ids = {
        c["check_id"]
        for c in checkov_report["results"]["passed_checks"]
        if Path(c["file_path"]).parent.name == env_name
    }
    assert {"CKV_AWS_111", "CKV_AWS_356", "CKV_AWS_107"} <= ids, sorted(ids)


def test_checkov_finds_no_failures(checkov_report: dict[str, Any]) -> None:
    failed = sorted(
        f"{c['check_id']} {c['resource']} ({Path(c['file_path']).parent.name})"
        for c in checkov_report["results"]["failed_checks"]
    )
    assert failed == []


def test_every_skipped_check_is_justified() -> None:
    skips = [
        line for line in CHECKOV_CONFIG.read_text().splitlines() if re.match(r"\s*-\s*CKV", line)
    ]
    assert skips, "no skip-check entries found: the config format changed?"
    for line in skips:
        assert re.match(r"\s*-\s*CKV\w+\s+#\s*\S.{10,}", line), f"unjustified skip: {line.strip()}"
