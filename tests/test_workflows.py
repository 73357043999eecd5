"""The GitHub workflows: actionlint (with shellcheck on every `run:` script) finds nothing,
and the deploy policy holds: pinned actions, OIDC only, one deploy per environment at a time,
production behind its GitHub environment.

GitHub cannot run here, so these are the checks that can fail before a push does.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

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


def _text(name: str) -> str:
    return (GITHUB / "workflows" / name).read_text()


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
    # One concurrency group per environment, and a running deploy is never cancelled.
    assert f"concurrency:\n  group: deploy-{env}\n  cancel-in-progress: false\n" in text
    assert "id-token: write" in text
    assert "secrets." not in text


def test_shared_flow_order_credentials_and_environment() -> None:
    text = _text("_deploy.yml")
    jobs_text = text.split("\njobs:\n", 1)[1]
    jobs = dict(re.findall(r"^  ([\w-]+):\n((?:    .*\n|\n)*)", jobs_text, re.MULTILINE))
    assert set(jobs) == {"changes", "build-layer", "build-backend", "infra", "deploy-backend"}
    assert "needs: [changes, build-layer]" in jobs["infra"]
    assert "needs.changes.outputs.infra == 'true'" in jobs["infra"]
    assert 'npx cdktf deploy "$DEPLOY_ENV" --auto-approve' in jobs["infra"]
    assert "needs: [changes, build-layer, build-backend, infra]" in jobs["deploy-backend"]
    assert "needs.infra.result == 'skipped'" in jobs["deploy-backend"]
    commands = {
        "build-layer": 'scripts build-layer --env "$DEPLOY_ENV" --json',
        "build-backend": 'scripts build-backend --env "$DEPLOY_ENV" --json',
        "deploy-backend": 'scripts deploy --env "$DEPLOY_ENV" --json',
    }
    for job, command in commands.items():
        assert command in jobs[job], job
    for job in ("build-layer", "build-backend", "infra", "deploy-backend"):
        body = jobs[job]
        # Every job that touches AWS: the protected GitHub environment and an OIDC role.
        assert "environment: ${{ inputs.github-environment }}" in body, job
        assert "role-to-assume: ${{ vars.AWS_DEPLOY_ROLE_ARN }}" in body, job
        assert "uses: ./.github/actions/setup" in body, job
    # No stored AWS keys anywhere.
    assert "aws-access-key-id" not in text
    assert "secrets." not in text


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


def test_setup_matches_the_readme() -> None:
    action = (GITHUB / "actions" / "setup" / "action.yml").read_text()
    assert 'python-version: "3.11"' in action
    assert 'node-version: "20"' in action
    assert "make setup" in action
