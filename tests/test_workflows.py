"""The GitHub workflows: actionlint (with shellcheck on every `run:` script) finds nothing,
and the deploy policy holds: pinned actions, OIDC only, one deploy per environment at a time,
one set-up action with caches and runtime-only installs in deploy jobs, artifacts built once,
and a saved plan, shown before the approval, applied after it and never re-planned.

GitHub cannot run here, so these are the checks that can fail before a push does;
tests/e2e/test_workflow_plan_apply.py runs the plan and apply jobs' own scripts.
"""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from environments import REPO_ROOT

GITHUB = REPO_ROOT / ".github"
WORKFLOWS = sorted((GITHUB / "workflows").glob("*.yml"))
ACTIONS = sorted((GITHUB / "actions").glob("*/action.yml"))
# Tools installed by `make setup` sit beside the interpreter running the tests.
_BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    path = _BIN / name
    found = str(path) if path.exists() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: run `make setup` (pinned in pyproject.toml)")
    return found


def _actionlint(cwd: Path, *files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            _tool("actionlint"),
            "-no-color",
            "-oneline",
            "-shellcheck",
            _tool("shellcheck"),
            *(str(f) for f in files),
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_the_expected_workflows_exist() -> None:
    names = {w.name for w in WORKFLOWS}
    assert {"deploy-staging.yml", "deploy.yml", "pull-request.yml", "_deploy.yml"} <= names
    assert [a.parent.name for a in ACTIONS] == ["setup"]
    assert (GITHUB / "dependabot.yml").is_file()


def test_actionlint_finds_nothing_in_any_workflow() -> None:
    # From the repository root, so local actions and reusable workflows are resolved and
    # their inputs checked too.
    result = _actionlint(REPO_ROOT, *WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_and_shellcheck_catch_a_broken_workflow(tmp_path: Path) -> None:
    # The linter run above could pass by checking nothing: prove it flags each kind of
    # mistake it is trusted with here (a shell bug, a script injection, a wrong action input).
    shutil.copytree(GITHUB / "actions", tmp_path / ".github" / "actions")
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "on: pull_request\n"
        "jobs:\n"
        "  a:\n"
        "    runs-on: ubuntu-latest\n"
        "    steps:\n"
        "      - run: echo ${{ github.event.pull_request.title }} $UNQUOTED\n"
        "      - uses: ./.github/actions/setup\n"
        "        with:\n"
        "          environment: staging\n"
    )
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    result = _actionlint(tmp_path, bad)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "SC2086" in result.stdout
    assert "potentially untrusted" in result.stdout
    assert 'input "environment" is not defined' in result.stdout


_USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(\S+)(.*)$", re.MULTILINE)
_PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


@pytest.mark.parametrize("path", [*WORKFLOWS, *ACTIONS], ids=lambda p: p.name)
def test_every_action_is_pinned_to_a_commit_with_its_version(path: Path) -> None:
    for ref, rest in _USES.findall(path.read_text()):
        if ref.startswith("./"):
            continue  # this repository's own action or reusable workflow
        assert _PINNED.match(ref), f"{path.name}: {ref} is not pinned to a full commit SHA"
        assert re.search(r"#\s*v\d+\.\d+\.\d+", rest), f"{path.name}: {ref} lacks a # vX.Y.Z"


Json = dict[str, Any]
SETUP = "./.github/actions/setup"
CREDENTIALS = "aws-actions/configure-aws-credentials"
DEPLOY_ROLE = "${{ vars.AWS_DEPLOY_ROLE_ARN }}"
PROTECTED = "${{ inputs.github-environment }}"


def _text(name: str) -> str:
    return (GITHUB / "workflows" / name).read_text()


def _load(path: Path) -> Json:
    data: Json = yaml.safe_load(path.read_text())
    return data


def _jobs(name: str) -> dict[str, Json]:
    jobs: dict[str, Json] = _load(GITHUB / "workflows" / name)["jobs"]
    return jobs


def _uses(job: Json) -> list[str]:
    """The actions a job's steps use, without their pins."""
    return [str(step["uses"]).split("@")[0] for step in job.get("steps", []) if "uses" in step]


def _with(job: Json, action: str) -> Json:
    """The `with:` of the job's one step using `action`."""
    found = [s for s in job["steps"] if str(s.get("uses", "")).split("@")[0] == action]
    assert len(found) == 1, f"{action}: {len(found)} steps"
    inputs: Json = found[0].get("with", {})
    return inputs


def _runs(job: Json) -> str:
    return "\n".join(str(step.get("run", "")) for step in job.get("steps", []))


@pytest.mark.parametrize(
    ("name", "env", "github_env"),
    [("deploy-staging.yml", "staging", "staging"), ("deploy.yml", "prod", "production")],
)
def test_deploy_workflows_call_the_shared_flow_one_at_a_time(
    name: str, env: str, github_env: str
) -> None:
    text = _text(name)
    assert "uses: ./.github/workflows/_deploy.yml" in text
    assert f"      env: {env}\n" in text
    assert f"      github-environment: {github_env}\n" in text
    # The plan job's own environment: no reviewers, so the plan is there before the approval.
    assert f"      plan-environment: {github_env}-plan\n" in text
    # One concurrency group per environment, and a running deploy is never cancelled.
    assert f"concurrency:\n  group: deploy-{env}\n  cancel-in-progress: false\n" in text
    assert "id-token: write" in text
    assert "secrets." not in text


def test_the_deploy_flow_jobs_and_their_order() -> None:
    jobs = _jobs("_deploy.yml")
    assert set(jobs) == {"changes", "build", "plan", "apply", "deploy-backend"}
    assert jobs["plan"]["needs"] == ["changes"]
    assert jobs["plan"]["if"] == "needs.changes.outputs.infra == 'true'"
    # Terraform's first layer version reads the built layer.zip: apply waits for build.
    assert sorted(jobs["apply"]["needs"]) == ["build", "plan"]
    # A plan with nothing to change asks nobody to approve anything.
    assert jobs["apply"]["if"] == "needs.plan.outputs.changes == 'true'"
    assert jobs["deploy-backend"]["needs"] == ["changes", "build", "plan", "apply"]
    condition = jobs["deploy-backend"]["if"]
    for clause in (
        "!cancelled()",
        "needs.build.result == 'success'",
        "needs.plan.result == 'success' || needs.plan.result == 'skipped'",
        "needs.apply.result == 'success' || needs.apply.result == 'skipped'",
    ):
        assert clause in condition


def test_the_saved_plan_is_shown_before_the_approval_and_applied_after_it() -> None:
    jobs = _jobs("_deploy.yml")
    plan, apply = jobs["plan"], jobs["apply"]
    # The approval gates apply only; plan runs in an environment of its own, unprotected.
    assert apply["environment"] == PROTECTED
    assert plan["environment"] == "${{ inputs.plan-environment }}"
    planning = _runs(plan)
    assert "npx cdktf synth" in planning
    assert re.search(
        r'terraform -chdir="\$STACK_DIR" plan .*-detailed-exitcode -out=tfplan', planning
    )
    assert 'scripts plan-check --env "$DEPLOY_ENV"' in planning
    assert 'terraform -chdir="$STACK_DIR" show -no-color tfplan' in planning
    # The job summary: the guard's table, then the plan as `terraform show` prints it.
    assert 'cat "$RUNNER_TEMP/plan-check.md"; } >> "$GITHUB_STEP_SUMMARY"' in planning
    assert 'head -c "$limit" "$STACK_DIR/tfplan.txt"' in planning
    # Exactly the planned files travel: the stack, its lock file (hidden), tfplan; no providers.
    upload = _with(plan, "actions/upload-artifact")
    assert upload["name"] == "plan-${{ inputs.env }}"
    assert upload["include-hidden-files"] is True
    assert "!${{ env.STACK_DIR }}/.terraform/**" in upload["path"]
    assert _with(apply, "actions/download-artifact")["name"] == upload["name"]
    applying = _runs(apply)
    assert "${{ needs.plan.outputs.sha256 }}" in str(apply["steps"])  # checked before use
    assert 'terraform -chdir="$STACK_DIR" init -no-color -lockfile=readonly' in applying
    assert re.search(r'terraform -chdir="\$STACK_DIR" apply [^\n]*tfplan$', applying, re.M)
    # After the approval: no checkout, no synth, no plan; terraform alone.
    assert not re.search(r"^\s*terraform\b[^\n]*\splan\b", applying, re.MULTILINE)
    assert "cdktf" not in applying
    assert _uses(apply) == [
        "actions/download-artifact",
        "hashicorp/setup-terraform",
        CREDENTIALS,
    ]
    # A saved plan applies only with the terraform that wrote it.
    for job in (plan, apply):
        terraform = _with(job, "hashicorp/setup-terraform")
        assert terraform == {
            "terraform_version": "${{ env.TERRAFORM_VERSION }}",
            "terraform_wrapper": False,
        }
    for workflow in WORKFLOWS:
        text = workflow.read_text()
        assert "cdktf deploy" not in text, workflow.name
        assert "auto-approve" not in text, workflow.name


def test_every_aws_job_uses_oidc_and_the_right_environment() -> None:
    jobs = _jobs("_deploy.yml")
    for name in ("build", "apply", "deploy-backend"):
        assert jobs[name]["environment"] == PROTECTED, name
        assert _with(jobs[name], CREDENTIALS)["role-to-assume"] == DEPLOY_ROLE, name
    # The plan job's read-only role, or the deploy role where that one trusts the plan job.
    assert (
        _with(jobs["plan"], CREDENTIALS)["role-to-assume"]
        == "${{ vars.AWS_PLAN_ROLE_ARN || vars.AWS_DEPLOY_ROLE_ARN }}"
    )
    assert CREDENTIALS not in _uses(jobs["changes"])
    text = _text("_deploy.yml")
    assert "aws-access-key-id" not in text
    assert "secrets." not in text


def test_artifacts_are_built_once_and_passed_on() -> None:
    jobs = _jobs("_deploy.yml")
    commands = {
        'scripts build-layer --env "$DEPLOY_ENV" --json': "build",
        'scripts build-backend --env "$DEPLOY_ENV" --json': "build",
        'scripts deploy --env "$DEPLOY_ENV" --json': "deploy-backend",
        '--layer-hash "$layer_hash" --package-hash "$package_hash"': "deploy-backend",
    }
    for command, owner in commands.items():
        assert [name for name, job in jobs.items() if command in _runs(job)] == [owner]
    record = _with(jobs["build"], "actions/upload-artifact")
    assert record["name"] == "build-${{ inputs.env }}"
    assert _with(jobs["deploy-backend"], "actions/download-artifact")["name"] == record["name"]
    # deploy-backend holds what it deployed against what build built.
    deploying = _runs(jobs["deploy-backend"])
    assert 'jq -r .hash "$RUNNER_TEMP/build/layer.json"' in deploying
    assert 'jq -r .layer_hash "$RUNNER_TEMP/deploy.json"' in deploying


def test_jobs_install_only_their_profile() -> None:
    jobs = _jobs("_deploy.yml")
    profiles = {
        name: _with(job, SETUP)["profile"] for name, job in jobs.items() if SETUP in _uses(job)
    }
    assert profiles == {"build": "runtime", "plan": "infra", "deploy-backend": "runtime"}
    pull_request = _jobs("pull-request.yml")
    assert _with(pull_request["test"], SETUP)["profile"] == "dev"
    assert _with(pull_request["synth"], SETUP)["profile"] == "infra"


def test_one_setup_action_with_caches() -> None:
    action = _load(GITHUB / "actions" / "setup" / "action.yml")
    assert set(action["inputs"]) == {"profile", "env"}
    assert action["inputs"]["profile"]["default"] == "dev"
    job: Json = {"steps": action["runs"]["steps"]}
    assert _with(job, "actions/setup-python")["python-version"] == "3.11"
    cache = _with(job, "actions/cache")
    assert "~/.cache/uv" in cache["path"]
    assert "hashFiles('pyproject.toml')" in cache["key"]
    assert "inputs.profile" in cache["key"]
    node_step = next(s for s in job["steps"] if "setup-node" in str(s.get("uses", "")))
    assert node_step["if"] == "inputs.profile != 'runtime'"
    assert node_step["with"] == {
        "node-version": "20",
        "cache": "npm",
        "cache-dependency-path": "package-lock.json",
    }
    # Each profile is a Makefile target, so CI installs the way a developer does.
    script = _runs(job)
    makefile = (REPO_ROOT / "Makefile").read_text()
    for profile, target in (
        ("runtime", "setup-runtime"),
        ("infra", "setup-infra"),
        ("dev", "setup"),
    ):
        assert f"{profile}) target={target} ;;" in script
        assert re.search(rf"^{target}:", makefile, re.MULTILINE), target
    assert 'make "$TARGET"' in script


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_no_workflow_installs_on_its_own(path: Path) -> None:
    text = path.read_text()
    for install in ("setup-python", "setup-node", "make setup", "pip install", "npm ci", "uv pip"):
        assert install not in text, f"{path.name}: {install} (use {SETUP})"


def test_cdktf_runs_line_oriented() -> None:
    # cdktf-cli's ink UI prints finished lines under CI instead of redrawing a spinner.
    for workflow in WORKFLOWS:
        if "npx cdktf" in workflow.read_text():
            assert _load(workflow)["env"]["CI"] == "true", workflow.name
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert "\nCDKTF := CI=1 npx --no-install cdktf\n" in makefile
    assert "\nsynth: setup\n\t$(CDKTF) synth\n" in makefile


def test_pull_request_runs_tests_synth_artifact_and_diff() -> None:
    text = _text("pull-request.yml")
    assert "run: bash .ci/run" in text
    assert "providers mirror" in text
    assert 'version = "5.100.0"' in text
    assert "TF_PLUGIN_MIRROR=" in text
    assert "run: npx cdktf synth" in text
    assert "path: cdktf.out/stacks/*/cdk.tf.json" in text
    assert "ref: ${{ github.event.pull_request.base.sha }}" in text
    assert "scripts synth-diff base/cdktf.out cdktf.out" in text
    assert "$GITHUB_STEP_SUMMARY" in text
    assert "No base synth" in text


def _pinned_python_packages() -> set[str]:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    requirements = [*project["dependencies"]]
    for extra in project["optional-dependencies"].values():
        requirements += extra
    return {re.split(r"[\s\[<>=!~;]", r, maxsplit=1)[0].lower() for r in requirements}


def _in_group(package: str, group: Json) -> bool:
    def matches(patterns: list[str]) -> bool:
        return any(fnmatch.fnmatch(package, p.lower()) for p in patterns)

    return matches(group.get("patterns", [])) and not matches(group.get("exclude-patterns", []))


def test_dependabot_keeps_actions_python_and_npm_pins_current() -> None:
    config = _load(GITHUB / "dependabot.yml")
    assert config["version"] == 2
    updates = {u["package-ecosystem"]: u for u in config["updates"]}
    assert set(updates) == {"github-actions", "pip", "npm"}
    for ecosystem, update in updates.items():
        assert update["schedule"]["interval"] == "weekly", ecosystem
        assert update["groups"], ecosystem
    # The root covers .github/workflows only: each composite action's directory is listed.
    action_dirs = {"/" + str(a.parent.relative_to(REPO_ROOT)) for a in ACTIONS}
    assert set(updates["github-actions"]["directories"]) == {"/"} | action_dirs
    assert updates["pip"]["directory"] == "/"
    assert updates["npm"]["directory"] == "/"
    # Every Python pin lands in exactly one weekly pull request.
    groups = updates["pip"]["groups"]
    for package in _pinned_python_packages():
        owners = [name for name, group in groups.items() if _in_group(package, group)]
        assert len(owners) == 1, f"{package}: groups {owners}"
