"""End to end: a legacy system (plain Terraform, fat packages, on moto) is adopted by the
`legacy` stack: plan-check passes, the apply imports everything and changes only what the
migration means to change, and Terraform sees no drift afterwards. A configuration that
forgot the API's memory and VPC is refused, naming both.

The world is built once per module (`adopted_world`, tests/e2e/adoption.py); the tests
below read it in order. The migration's next steps (the first deploy onto layer + package,
rollback) belong after `test_terraform_sees_no_drift_after_adoption`, using the same world.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import pytest
from lambda_double import LambdaDouble

from environments import Environment

from .adoption import AdoptedWorld, function_state, plan_check, scripts_json, synth_stack

pytestmark = pytest.mark.e2e

# What adopting may change on a function: it publishes a version (nothing else).
PUBLISHED = {"publish", "qualified_arn", "qualified_invoke_arn", "version"}


def _lambda(world: AdoptedWorld) -> Any:
    return boto3.client(
        "lambda",
        endpoint_url=world.endpoint,
        region_name=world.env.region,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def test_plan_check_saw_only_imports_and_intended_changes(adopted_world: AdoptedWorld) -> None:
    report = adopted_world.plan_check_json
    print(f"\n{adopted_world.plan_check_table}\ntimings: {adopted_world.timings}")
    assert report["ok"] is True
    assert report["summary"]["delete"] == report["summary"]["replace"] == 0
    changes = report["changes"]
    functions = [c for c in changes if c["type"] == "aws_lambda_function"]
    assert sorted(c["label"] for c in functions) == sorted(adopted_world.env.function_names)
    for change in functions:
        assert change["action"] == "update" and change["import_id"], change
        assert set(change["attributes"]) <= PUBLISHED, change
    imported = {(c["type"], c["label"]) for c in changes if c["import_id"]}
    assert {t for t, _ in imported} >= {
        "aws_lambda_function",
        "aws_cloudwatch_log_group",
        "aws_lambda_alias",
        "aws_iam_role",
        "aws_iam_role_policy_attachment",
        "aws_lambda_event_source_mapping",
        "aws_cloudwatch_event_rule",
        "aws_lambda_permission",
    }
    # Nothing that exists is created again (the first failure the issue reports).
    created = {c["type"] for c in changes if c["action"] == "create"}
    assert not created & {"aws_lambda_function", "aws_cloudwatch_log_group", "aws_iam_role"}
    # Only the legacy system's missing aliases are new: the API's existed.
    new_aliases = sorted(
        c["label"] for c in changes if c["type"] == "aws_lambda_alias" and c["action"] == "create"
    )
    assert new_aliases == sorted(
        f"{n}:live" for n in adopted_world.env.function_names if not n.endswith("-api")
    )


def test_adopted_functions_keep_their_configuration(adopted_world: AdoptedWorld) -> None:
    lam = _lambda(adopted_world)
    for name, before in adopted_world.before.items():
        after = function_state(lam, name)
        assert after == before, name
    api = adopted_world.before["bluemoxon-legacy-api"]
    assert api["MemorySize"] == 512 and api["Timeout"] == 600
    assert api["VpcConfig"]["SubnetIds"] and api["TracingConfig"]["Mode"] == "Active"
    assert api["Role"].endswith(":role/bluemoxon-legacy-lambda-exec")


def test_every_trigger_invokes_the_alias(adopted_world: AdoptedWorld) -> None:
    lam = _lambda(adopted_world)
    env = adopted_world.env
    aliases = {
        name: lam.get_alias(FunctionName=name, Name=env.alias_name)["AliasArn"]
        for name in env.function_names
    }
    (mapping,) = lam.list_event_source_mappings()["EventSourceMappings"]
    assert mapping["FunctionArn"] == aliases["bluemoxon-legacy-runbook-worker"]
    events = boto3.client(
        "events",
        endpoint_url=adopted_world.endpoint,
        region_name=env.region,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    (target,) = events.list_targets_by_rule(Rule="bluemoxon-legacy-cleanup-schedule")["Targets"]
    assert target["Arn"] == aliases["bluemoxon-legacy-cleanup"]
    policy = lam.get_policy(FunctionName="bluemoxon-legacy-cleanup", Qualifier=env.alias_name)
    assert "events.amazonaws.com" in policy["Policy"]
    api_policy = lam.get_policy(FunctionName="bluemoxon-legacy-api", Qualifier=env.alias_name)
    assert "AllowAPIGatewayInvoke" in api_policy["Policy"]


def _plan_exit_code(world: AdoptedWorld, stack_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [world.tools.terraform, "plan", "-detailed-exitcode", "-input=false", "-no-color"],
        cwd=stack_dir,
        env=world.environ,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


def test_terraform_sees_no_drift_after_adoption(adopted_world: AdoptedWorld) -> None:
    plan = _plan_exit_code(adopted_world, adopted_world.stack_dir)
    assert plan.returncode == 0, plan.stdout[-4000:] + plan.stderr[-2000:]


def _forgetful(env: Environment) -> Environment:
    """The configuration the issue warns about: the API's memory and VPC left at defaults."""
    functions = tuple(
        replace(f, memory_mb=1024, vpc=None) if f.name == "api" else f for f in env.functions
    )
    return replace(env, functions=functions)


def test_plan_check_refuses_a_configuration_that_forgot_memory_and_vpc(
    adopted_world: AdoptedWorld, tmp_path: Path
) -> None:
    # A fresh state: the same imports, from a configuration that does not match reality.
    stack_dir = synth_stack(_forgetful(adopted_world.env), tmp_path / "cdktf.out")
    refused = plan_check(stack_dir, adopted_world.environ)
    assert refused.returncode == 1, refused.stdout[-3000:] + refused.stderr[-3000:]
    assert "memory_size 512 -> 1024 is not intended" in refused.stdout
    assert "vpc_config" in refused.stdout
    assert refused.stderr.startswith("error: plan-check refused the plan: ")
    # --allow lets one run through on purpose, attribute by attribute.
    allowed = plan_check(
        stack_dir,
        adopted_world.environ,
        "--plan-file",
        "plan-check.tfplan",
        "--allow",
        "api.memory_size",
        "--allow",
        "bluemoxon-legacy-api.vpc_config",
    )
    assert allowed.returncode == 0, allowed.stdout[-3000:] + allowed.stderr[-3000:]


# --- the migration's next phases, on the adopted world ---------------------------------


@pytest.fixture(scope="module")
def scripts_environ(adopted_world: AdoptedWorld) -> Iterator[dict[str, str]]:
    """The release commands' view of AWS: the same moto behind the Lambda double, which
    behaves like real Lambda (RevisionIds, updates in progress, a downloadable
    Code.Location). It knows the fat package's bytes: terraform created those functions
    straight on moto."""
    double = LambdaDouble.start(upstream=adopted_world.endpoint, update_window_s=0.2)
    double.remember_code(adopted_world.fat_package.read_bytes())
    try:
        yield {
            **adopted_world.environ,
            "AWS_ENDPOINT_URL": double.endpoint,
            "LAYERS_POLL_DELAY": "0.05",
            "LAYERS_CONFLICT_DELAYS": "0.1,0.2,0.4,0.8",
        }
    finally:
        double.stop()


def _migrate(world: AdoptedWorld, environ: dict[str, str], *extra: str) -> dict[str, Any]:
    return scripts_json(
        [
            "migrate",
            "--env",
            world.env.name,
            "--stack-dir",
            str(world.stack_dir),
            "--backend-dir",
            str(world.backend_dir),
            "--build-dir",
            str(world.stack_dir.parent / "migrate-build"),
            "--find-links",
            str(world.wheels),
            "--no-index",
            *extra,
        ],
        environ,
    )


def _served(world: AdoptedWorld) -> dict[str, tuple[str, tuple[str, ...]]]:
    lam = _lambda(world)
    served = {}
    for name in world.env.function_names:
        config = lam.get_function_configuration(FunctionName=name, Qualifier=world.env.alias_name)
        served[name] = (config["CodeSha256"], tuple(x["Arn"] for x in config.get("Layers", [])))
    return served


def test_migrate_checks_each_phase_before_the_first_release(
    adopted_world: AdoptedWorld, scripts_environ: dict[str, str]
) -> None:
    report = _migrate(adopted_world, scripts_environ)
    states = {p["phase"]: p["state"] for p in report["phases"]}
    print(
        "\n"
        + "\n".join(f"phase {p['phase']}: {p['state']} {p['seconds']}s" for p in report["phases"])
    )
    assert states == {1: "done", 2: "todo", 3: "done", 4: "todo", 5: "done"}
    assert "--apply" in report["phases"][1]["next"]
    # Phase 4 waits for phase 2: CI still needs the hand-made policy until the first release.
    assert "not before phases 2 and 3" in report["phases"][3]["next"]


def test_migrate_apply_releases_onto_the_fat_functions_and_retires_the_old_policy(
    adopted_world: AdoptedWorld, scripts_environ: dict[str, str]
) -> None:
    fat = {
        n: (b["CodeSha256"], tuple(x["Arn"] for x in b.get("Layers", [])))
        for n, b in adopted_world.before.items()
    }

    report = _migrate(adopted_world, scripts_environ, "--apply")

    states = {p["phase"]: p["state"] for p in report["phases"]}
    print(
        "\n"
        + "\n".join(f"phase {p['phase']}: {p['state']} {p['seconds']}s" for p in report["phases"])
    )
    assert states == {1: "done", 2: "done", 3: "done", 4: "done", 5: "done"}, report
    assert report["done"] is True
    served = _served(adopted_world)
    for name, (code, layers) in served.items():
        assert code != fat[name][0]
        assert any(f":layer:{adopted_world.env.layer_name}:" in arn for arn in layers)
    checked = " ".join(report["phases"][1]["checked"])
    assert "imports from package + layer" in checked
    # The fat packages were copied into the store before anything changed.
    record = scripts_json(["history", "--env", adopted_world.env.name], scripts_environ)
    assert record["releases"][0]["state"] == "succeeded"
    # Terraform still sees no drift: the release only moved what the stack ignores.
    plan = _plan_exit_code(adopted_world, adopted_world.stack_dir)
    assert plan.returncode == 0, plan.stdout[-4000:] + plan.stderr[-2000:]


def test_rollback_previous_returns_the_fat_packages_exactly(
    adopted_world: AdoptedWorld, scripts_environ: dict[str, str]
) -> None:
    fat = {
        n: (b["CodeSha256"], tuple(x["Arn"] for x in b.get("Layers", [])))
        for n, b in adopted_world.before.items()
    }

    rolled = scripts_json(
        ["rollback", "--env", adopted_world.env.name, "--previous"], scripts_environ
    )

    assert rolled["state"] == "succeeded"
    assert _served(adopted_world) == fat
    plan = _plan_exit_code(adopted_world, adopted_world.stack_dir)
    assert plan.returncode == 0, plan.stdout[-4000:] + plan.stderr[-2000:]
