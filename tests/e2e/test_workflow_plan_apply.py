"""The `plan` and `apply` jobs of .github/workflows/_deploy.yml: their own `run:` scripts,
run by bash as GitHub runs them (`bash -e`, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY), against a
moto server with the `local` stack.

The `uses:` steps get stand-ins: checkout copies the app, the set-up action links this venv
and node_modules, upload-artifact copies what its path patterns and hidden-file rule select,
download-artifact copies it back, credentials come from moto's fixed keys. Then:
- plan synthesizes, plans to `tfplan`, writes the plan to its summary and uploads the stack;
- apply, in a directory holding nothing but that artifact, refuses a plan whose sha256 is
  not the one planned, then applies the saved plan; a second apply of it is refused by
  terraform as stale, so nothing is ever re-planned after the approval.

Needs terraform, npx and TF_PLUGIN_MIRROR, like the other end-to-end tests.
"""

from __future__ import annotations

import fnmatch
import io
import os
import re
import shutil
import subprocess
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from environments import ENVIRONMENTS, REPO_ROOT
from scripts.local import aws as local_aws

pytestmark = pytest.mark.e2e

WORKFLOW = REPO_ROOT / ".github" / "workflows" / "_deploy.yml"
ENV = ENVIRONMENTS["local"]
# What a checkout brings that the plan job reads: the app, its configuration, the scripts.
APP = ("main.py", "cdktf.json", "package.json", "artifacts.py")
APP_DIRS = ("environments", "stacks", "infra_constructs", "scripts")
ROLE = "arn:aws:iam::123456789012:role/test"
_EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")

Json = dict[str, Any]


@dataclass
class Job:
    """One job's steps, run in `workspace` the way a runner would."""

    workspace: Path
    environ: Mapping[str, str]
    context: Mapping[str, str]  # expressions this workflow uses: inputs, vars, needs
    artifacts: Path
    temp: Path
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    outcomes: dict[str, str] = field(default_factory=dict)
    logs: dict[str, str] = field(default_factory=dict)

    @property
    def summary(self) -> Path:
        return self.temp / "summary.md"

    def evaluate(self, text: str, env: Mapping[str, str]) -> str:
        def one(match: re.Match[str]) -> str:
            expression = match.group(1)
            step = re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", expression)
            if step:
                return self.outputs.get(step[1], {}).get(step[2], "")
            variable = re.fullmatch(r"env\.(\w+)", expression)
            if variable:
                return env[variable[1]]
            if expression == "runner.temp":
                return str(self.temp)
            if expression in self.context:
                return self.context[expression]
            raise AssertionError(f"an expression this test does not know: {expression}")

        return _EXPRESSION.sub(one, text)

    def should_run(self, step: Json, failed: bool) -> bool:
        condition = str(step.get("if", "")).strip()
        if not condition:
            return not failed
        condition = _EXPRESSION.sub(r"\1", condition)
        if "!cancelled()" not in condition:
            raise AssertionError(f"a step condition this test does not know: {condition}")
        wanted = re.findall(r"steps\.([\w-]+)\.outcome == '(\w+)'", condition)
        return all(self.outcomes.get(step_id) == outcome for step_id, outcome in wanted)

    def run(self, steps: list[Json], env: Mapping[str, str]) -> str | None:
        """Run every step; the name of the first step that failed, or None."""
        first_failure: str | None = None
        for number, step in enumerate(steps):
            name = str(step.get("name") or step.get("uses") or f"step {number}")
            if not self.should_run(step, failed=first_failure is not None):
                continue
            ok = self._step(step, number, name, env)
            if "id" in step:
                self.outcomes[step["id"]] = "success" if ok else "failure"
            if not ok and first_failure is None:
                first_failure = name
        return first_failure

    def _step(self, step: Json, number: int, name: str, env: Mapping[str, str]) -> bool:
        inputs = {k: self.evaluate(str(v), env) for k, v in step.get("with", {}).items()}
        if "uses" in step:
            outputs = self._stand_in(str(step["uses"]).split("@")[0], inputs)
            if "id" in step:
                self.outputs[step["id"]] = outputs
            return True
        output_file = self.temp / f"output-{number}"
        output_file.write_text("")
        step_env = {
            **env,
            **{k: self.evaluate(str(v), env) for k, v in step.get("env", {}).items()},
            "GITHUB_OUTPUT": str(output_file),
            "GITHUB_STEP_SUMMARY": str(self.summary),
            "RUNNER_TEMP": str(self.temp),
            "GITHUB_WORKSPACE": str(self.workspace),
        }
        script = self.temp / f"step-{number}.sh"
        script.write_text(str(step["run"]))
        done = subprocess.run(
            ["bash", "-e", str(script)],
            cwd=self.workspace,
            env=step_env,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        self.logs[name] = done.stdout + done.stderr
        if "id" in step:
            lines = output_file.read_text().splitlines()
            self.outputs[step["id"]] = dict(line.split("=", 1) for line in lines if "=" in line)
        return done.returncode == 0

    def _stand_in(self, action: str, inputs: Mapping[str, str]) -> dict[str, str]:
        if action == "actions/checkout":
            for name in APP:
                if (REPO_ROOT / name).is_file():
                    shutil.copy2(REPO_ROOT / name, self.workspace / name)
            for name in APP_DIRS:
                shutil.copytree(
                    REPO_ROOT / name,
                    self.workspace / name,
                    ignore=shutil.ignore_patterns("__pycache__"),
                )
            return {}
        if action == "./.github/actions/setup":
            assert inputs["profile"] == "infra"
            for name in (".venv", "node_modules"):
                (self.workspace / name).symlink_to(REPO_ROOT / name)
            return {"region": ENV.region} if inputs.get("env") else {}
        if action == "aws-actions/configure-aws-credentials":
            assert inputs["role-to-assume"] == ROLE
            return {}
        if action == "hashicorp/setup-terraform":
            return {}  # the terraform on PATH (the tools fixture checked it)
        if action == "actions/upload-artifact":
            _upload(self.workspace, self.artifacts / inputs["name"], inputs)
            return {}
        if action == "actions/download-artifact":
            shutil.copytree(
                self.artifacts / inputs["name"], self.workspace / inputs["path"], dirs_exist_ok=True
            )
            return {}
        raise AssertionError(f"an action this test has no stand-in for: {action}")


def _upload(workspace: Path, target: Path, inputs: Mapping[str, str]) -> None:
    """upload-artifact's selection for one directory: its files, minus `!` patterns, hidden
    files only with include-hidden-files; stored relative to that directory."""
    patterns = [line.strip() for line in inputs["path"].splitlines() if line.strip()]
    roots = [p.rstrip("/") for p in patterns if not p.startswith("!")]
    excludes = [p[1:] for p in patterns if p.startswith("!")]
    assert len(roots) == 1, roots
    hidden = inputs.get("include-hidden-files") == "True"
    root = workspace / roots[0]
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        in_workspace = str(path.relative_to(workspace))
        if path.is_dir() or any(fnmatch.fnmatch(in_workspace, e) for e in excludes):
            continue
        if not hidden and any(part.startswith(".") for part in relative.parts):
            continue
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target / relative)


def _tiny_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("python/placeholder.py", "")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = local_aws.start_moto(log_path=tmp_path_factory.mktemp("moto") / "moto.log")
    try:
        yield server.endpoint
    finally:
        server.stop()


def test_plan_then_apply_exactly_the_saved_plan(
    tools: local_aws.TerraformTools, moto_endpoint: str, tmp_path: Path
) -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    jobs: dict[str, Json] = workflow["jobs"]
    cli_config = local_aws.write_cli_config(tmp_path / "terraform.tfrc", tools.mirror)
    base = local_aws.local_environ(moto_endpoint, region=ENV.region, cli_config=cli_config)
    base.pop("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", None)  # main.py sets it
    base["PATH"] = os.pathsep.join([str(Path(tools.terraform).parent), base.get("PATH", "")])
    context = {
        "inputs.env": ENV.name,
        "inputs.github-environment": "test",
        "inputs.plan-environment": "test-plan",
        "github.run_id": "1",
        "vars.AWS_DEPLOY_ROLE_ARN": ROLE,
        "vars.AWS_PLAN_ROLE_ARN || vars.AWS_DEPLOY_ROLE_ARN": ROLE,
    }
    probe = Job(tmp_path, {}, context, tmp_path, tmp_path)
    env = {**base, **{k: probe.evaluate(str(v), base) for k, v in workflow["env"].items()}}
    assert env["STACK_DIR"] == f"cdktf.out/stacks/{ENV.name}"

    # What Terraform reads: the bucket (a data source, at plan) and the latest zips (at apply).
    s3 = boto3.client(
        "s3", endpoint_url=moto_endpoint, region_name=ENV.region, aws_access_key_id="test",
        aws_secret_access_key="test",
    )  # fmt: skip
    s3.create_bucket(
        Bucket=ENV.artifact_bucket,
        CreateBucketConfiguration={"LocationConstraint": ENV.region},  # type: ignore[typeddict-item]
    )
    for name in ("layer.zip", "backend.zip"):
        s3.put_object(Bucket=ENV.artifact_bucket, Key=f"{ENV.key_prefix}{name}", Body=_tiny_zip())

    artifacts = tmp_path / "artifacts"

    def job(name: str, extra: Mapping[str, str] | None = None) -> Job:
        workspace = tmp_path / name / "workspace"
        temp = tmp_path / name / "temp"
        workspace.mkdir(parents=True)
        temp.mkdir()
        return Job(workspace, env, {**context, **(extra or {})}, artifacts, temp)

    # ---- plan: no approval; the plan and the guard's verdict in the summary, then uploaded.
    plan = job("plan")
    failed = plan.run(jobs["plan"]["steps"], env)
    assert failed is None, f"{failed}:\n{plan.logs.get(failed or '', '')[-4000:]}"
    outputs = plan.outputs["plan"]
    assert outputs["changes"] == "true"
    assert re.fullmatch(r"[0-9a-f]{64}", outputs["sha256"])
    summary = plan.summary.read_text()
    assert f"### terraform plan ({ENV.name}): changes: true" in summary
    assert outputs["sha256"] in summary
    assert "will be created" in summary
    assert "plan guard" in summary  # its table, or the note that it is not there yet
    uploaded = artifacts / f"plan-{ENV.name}"
    assert sorted(p.name for p in uploaded.iterdir()) == [
        ".terraform.lock.hcl",
        "cdk.tf.json",
        "tfplan",
        "tfplan.txt",
    ]
    reviewed = {
        "needs.plan.outputs.sha256": outputs["sha256"],
        "needs.plan.outputs.region": plan.outputs["setup"]["region"],
    }

    # ---- apply with a plan that is not the reviewed one: stopped before terraform runs.
    tampered = job("apply-tampered", {**reviewed, "needs.plan.outputs.sha256": "0" * 64})
    assert tampered.run(jobs["apply"]["steps"], env) == "Check it is the plan that was reviewed"
    assert not list(tampered.workspace.rglob("terraform.*.tfstate"))

    # ---- apply: only the artifact, the lock file as planned, exactly the saved plan.
    apply = job("apply", reviewed)
    failed = apply.run(jobs["apply"]["steps"], env)
    assert failed is None, f"{failed}:\n{apply.logs.get(failed or '', '')[-4000:]}"
    assert sorted(p.name for p in apply.workspace.iterdir()) == ["cdktf.out"]
    assert f"applied the saved plan `{outputs['sha256']}`" in apply.summary.read_text()
    lam = boto3.client(
        "lambda", endpoint_url=moto_endpoint, region_name=ENV.region, aws_access_key_id="test",
        aws_secret_access_key="test",
    )  # fmt: skip
    names = {f["FunctionName"] for f in lam.list_functions()["Functions"]}
    assert names == set(ENV.function_names)

    # ---- the same plan once more (a re-run after approval): terraform refuses it as stale.
    steps = jobs["apply"]["steps"]
    again = [s for s in steps if "download-artifact" not in str(s.get("uses", ""))]
    assert apply.run(again, env) == "terraform apply tfplan"
    assert "Saved plan is stale" in apply.logs["terraform apply tfplan"]
