"""End to end, in one run: the real estate's shape (tests/e2e/estate.py: its own Terraform
root on moto plus the deploy workflow's out-of-band run) adopted and migrated with the
commands a platform team runs, each checked where it lands:

1. `discover` writes the environment file (a folder of its own: LAYERS_ENVIRONMENTS_DIR);
2. `cdktf synth` (main.py) of that file, and `plan-check`: imports, nothing lost;
3. `migrate --handover` on the old root: removed blocks (whole module calls), references,
   `state rm`; done as told, run again: both plans proven; both applied;
4. `migrate --apply`: the callers phase moves our triggers (grants copied to the alias),
   and waits for the API's integration, owned by the old root, to be changed there as
   printed; read back, recorded; the bootstrap waits while the file is not applied;
5. `terraform plan -detailed-exitcode` exits 0 in both roots;
6. a release of changed app code (`deploy`), then `rollback --previous`: every alias
   serves the fat package and its layers again, and `$LATEST` too where a caller still
   invokes the unqualified function (the API's code invoking cleanup by name);
7. both roots plan no change.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from lambda_double import LambdaDouble

from scripts.local import aws as local_aws

from .adoption import run_ok
from .estate import (
    ALIAS,
    PREFIX,
    ZIP_FUNCTIONS,
    Estate,
    lambda_client,
    running_estate,
)
from .estate_migration import (
    ENV,
    change_in_old_root,
    code_sha256,
    follow_handover,
    mappings_on_alias,
    migrate_apply,
    plans_clean,
    scripts,
    served,
    synth,
)

Lap = Callable[[str], None]
Served = tuple[str, tuple[str, ...]]

pytestmark = pytest.mark.e2e
RELEASED = tuple(PREFIX + f for f in ZIP_FUNCTIONS if f != "db-sync")
# What the old root's moved code lived in: every module call of a function we adopt.
MODULES = ["module.api", "module.cleanup", "module.db_sync", "module.retry"]
MODULES += ["module.tracking_dispatcher", "module.worker"]


@pytest.fixture(scope="module")
def estate(
    tools: local_aws.TerraformTools, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Estate, local_aws.TerraformTools]]:
    with running_estate(tmp_path_factory, "estate-migration", tools) as estate:
        yield estate, tools


def test_the_estate_migrates_end_to_end(
    estate: tuple[Estate, local_aws.TerraformTools], tmp_path: Path
) -> None:
    world, tools = estate
    laps: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal clock
        laps[step] = round(time.perf_counter() - clock, 1)
        clock = time.perf_counter()

    lam = lambda_client(world.endpoint)
    fat = code_sha256(world.fat_package)
    # What each function ran before anything of ours: the workflow's fat package and
    # layers on $LATEST (and, on the API, behind its alias).
    before = {name: served(lam, name, None) for name in RELEASED}
    assert all(code == fat for code, _ in before.values())
    assert served(lam, PREFIX + "api", ALIAS) == before[PREFIX + "api"]

    # 1. discover, into a folder the commands and synth read instead of environments/.
    envs = tmp_path / "environments"
    envs.mkdir()
    scripts(
        [
            "discover",
            "--env",
            ENV,
            "--prefix",
            PREFIX,
            "--state",
            "local",
            "--out",
            str(envs / f"{ENV}.toml"),
        ],
        world.environ,
    )
    environ = {**world.environ, "LAYERS_ENVIRONMENTS_DIR": str(envs)}
    lap("discover")

    # 2. synth, plan-check: only imports and what adoption adds.
    outdir = tmp_path / "cdktf.out"
    stack_dir = synth(envs, outdir, environ, ENV)
    _, checked, _ = scripts(["plan-check", "--env", ENV, "--stack-dir", str(stack_dir)], environ)
    assert checked["ok"] and checked["summary"]["delete"] == checked["summary"]["replace"] == 0
    functions = [c for c in checked["changes"] if c["type"] == "aws_lambda_function"]
    assert sorted(c["label"] for c in functions) == sorted((*RELEASED, PREFIX + "db-sync"))
    assert all(c["import_id"] for c in functions)
    lap("synth + plan-check")

    # 3. the hand-over, as told, then proven; both roots applied.
    old = world.root_dir
    (old / "terraform.tfvars").write_text(
        f'endpoint = "{world.endpoint}"\npackage_zip = "{world.fat_package}"\n'
        f'db_sync_zip = "{world.db_sync_package}"\nlayer_zip = "{old.parent / "layer.zip"}"\n'
    )
    handover = ["migrate", "--env", ENV, "--handover", str(old), "--stack-dir", str(stack_dir)]
    _, first, _ = scripts(handover, environ)
    assert first["old_root"]["state"] == "todo" and not first["done"]
    assert [r for r in first["removed"] if r.startswith("module.")] == MODULES
    found = {(r["expression"], r["replacement"]) for r in first["references"]}
    assert ("module.api.invoke_arn", "data.aws_lambda_function.api.invoke_arn") in found
    assert ("module.api.role_arn", "data.aws_iam_role.api.arn") in found
    dropped = follow_handover(old, first, tools.terraform, environ)
    assert len(dropped) == 4, dropped  # three schedules, the workers' mappings
    _, second, _ = scripts(handover, environ)
    assert second["done"], second["old_root"]
    proof = second["old_root"]
    assert proof["destroyed"] == proof["forget_mismatch"] == proof["other_changes"] == []
    assert len(proof["forgotten"]) > 50 and second["our_stack"]["state"] == "done"
    run_ok(
        [tools.terraform, "apply", "-input=false", "-no-color", "layers-handover.tfplan"],
        cwd=old,
        environ=environ,
    )
    run_ok(
        [tools.terraform, "apply", "-input=false", "-no-color", "plan-check.tfplan"],
        cwd=stack_dir,
        environ=environ,
    )
    plans_clean(tools.terraform, [old, stack_dir], environ)
    lap("hand-over, both applied")

    # 4.-7. behind the Lambda double: the release commands need what moto lacks.
    double = LambdaDouble.start(upstream=world.endpoint, update_window_s=0.2)
    try:
        double.remember_code(world.fat_package.read_bytes())
        released = {
            **environ,
            "AWS_ENDPOINT_URL": double.endpoint,
            "LAYERS_POLL_DELAY": "0.05",
            "LAYERS_CONFLICT_DELAYS": "0.1,0.2,0.4,0.8",
        }
        _callers(
            world=world,
            tools=tools,
            tmp_path=tmp_path,
            envs=envs,
            stack_dir=stack_dir,
            environ=released,
            lap=lap,
        )
        _release_and_roll_back(
            world=world, tmp_path=tmp_path, environ=released, lam=lam, before=before, lap=lap
        )
    finally:
        double.stop()
    plans_clean(tools.terraform, [old, stack_dir], environ)
    lap("both roots plan no change")
    print(f"\ntimings (s): {laps}")


def _callers(
    *,
    world: Estate,
    tools: local_aws.TerraformTools,
    tmp_path: Path,
    envs: Path,
    stack_dir: Path,
    environ: dict[str, str],
    lap: Lap,
) -> None:
    # Synthesized for moto itself, as the stack was adopted: the double is this run's only.
    moto = {**environ, "AWS_ENDPOINT_URL": world.endpoint}
    discovered = (envs / f"{ENV}.toml").read_text()
    phases = migrate_apply(world, tmp_path / "migrate-build", stack_dir, environ)
    callers = phases[5]
    assert callers["env_file_written"] and callers["state"] == "todo"
    # No release while the file it just wrote is not synthesized and applied.
    assert phases[2]["state"] == "todo" and "phase 5" in phases[2]["next"]
    assert (envs / f"{ENV}.toml").read_text() != discovered
    (integration,) = [c for c in callers["changes"] if "aws_apigatewayv2_integration" in c]
    (by_name,) = [c for c in callers["changes"] if "lambda-invoke" in c]
    assert PREFIX + "cleanup" in by_name
    stack_dir = synth(envs, stack_dir.parents[1], moto, ENV)
    _, checked, _ = scripts(["plan-check", "--env", ENV, "--stack-dir", str(stack_dir)], environ)
    # Triggers re-pointed at the alias, grants added there; none replaced or deleted.
    assert checked["ok"] and checked["summary"]["delete"] == checked["summary"]["replace"] == 0
    kinds = {(c["type"], c["action"]) for c in checked["changes"] if c["action"] != "no-op"}
    assert kinds == {
        ("aws_lambda_event_source_mapping", "update"),
        ("aws_cloudwatch_event_target", "update"),
        ("aws_lambda_permission", "create"),
    }
    run_ok(
        [tools.terraform, "apply", "-input=false", "-no-color", "plan-check.tfplan"],
        cwd=stack_dir,
        environ=environ,
    )
    # Every zip worker's queue now feeds its alias, still reporting partial failures.
    assert mappings_on_alias(lambda_client(world.endpoint)) == 4
    # The old root owns the API's integration: the change as printed, applied there.
    assert change_in_old_root(world.root_dir, integration).endswith(
        f':function:{PREFIX}api:{ALIAS}"'
    )
    run_ok(
        [tools.terraform, "apply", "-auto-approve", "-input=false", "-no-color"],
        cwd=world.root_dir,
        environ=environ,
    )
    phases = migrate_apply(world, tmp_path / "migrate-build", stack_dir, environ)
    assert any("invokes the alias (read back)" in line for line in phases[5]["checked"])
    # Left: the API's code invoking cleanup by name (nothing can read that back).
    assert phases[5]["changes"] == [by_name]
    synth(envs, stack_dir.parents[1], moto, ENV)
    plans_clean(tools.terraform, [world.root_dir, stack_dir], environ)
    lap("callers moved, both roots plan no change")


def _release_and_roll_back(
    *,
    world: Estate,
    tmp_path: Path,
    environ: dict[str, str],
    lam: Any,
    before: dict[str, Served],
    lap: Lap,
) -> None:
    (world.backend_dir / "VERSION").write_text("9.9.9\n")  # the app code changes
    build = [
        "--env",
        ENV,
        "--backend-dir",
        str(world.backend_dir),
        "--build-dir",
        str(tmp_path / "b"),
    ]
    scripts(
        [
            "build-layer",
            *build,
            "--find-links",
            str(world.wheels),
            "--no-index",
            "--manifest",
            str(tmp_path / "b" / "layer-manifest.json"),
        ],
        environ,
    )
    scripts(["build-backend", *build], environ)
    _, release, _ = scripts(
        ["deploy", "--env", ENV, "--backend-dir", str(world.backend_dir)], environ
    )
    assert release["state"] == "succeeded"
    cleanup = PREFIX + "cleanup"
    assert list(release["bypassed"]) == [cleanup]
    for name in RELEASED:
        code, layers = served(lam, name, ALIAS)
        assert code != before[name][0] and any(f":layer:{PREFIX}deps:" in a for a in layers)
    lap("release")

    _, rolled, _ = scripts(["rollback", "--env", ENV, "--previous"], environ)
    assert rolled["state"] == "succeeded"
    for name in RELEASED:
        # Every alias: the fat package the workflow uploaded, with its layers.
        assert served(lam, name, ALIAS) == before[name], name
    # Cleanup's caller still invokes the unqualified function: $LATEST is restored too.
    assert served(lam, cleanup, None) == before[cleanup]
    # db-sync (its own package) was never released: still its own zip.
    assert served(lam, PREFIX + "db-sync", None)[0] == code_sha256(world.db_sync_package)
    lap("rollback --previous")
