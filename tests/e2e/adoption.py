"""The adoption world: a legacy system built by plain Terraform on moto, then adopted.

`build_adopted_world` is what the `adopted_world` fixture (conftest.py) yields. Steps, each
timed in `AdoptedWorld.timings`:

1. moto (tests/e2e/moto_fidelity.py, with AWS managed IAM policies loaded);
2. the legacy world: tests/e2e/legacy_world/main.tf applied with its own state, running
   four fat-package functions (app code plus dependencies in one zip);
3. the layer and the function package built into the artifact bucket (Terraform publishes
   the layer's first version from it);
4. the `legacy` stack synthesized from `legacy_environment(...)` with the ids moto
   generated (subnets, security group, the worker's mapping UUID): moto invents new ones
   on every start, a real account's never change;
5. `python -m scripts plan-check --env legacy` (a fresh plan, saved beside the stack);
6. `terraform apply` of exactly that plan.

Later steps (the first deploy onto layer + package, rollback) use the world as yielded:
its endpoint, process environment, terraform tools, environment and stack directory.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from environments import REPO_ROOT, Environment, VpcConfig, legacy_environment
from scripts.local import aws as local_aws

from .offline_backend import make_backend, write_wheel

LEGACY_WORLD = Path(__file__).resolve().parent / "legacy_world"
MOTO_FIDELITY = Path(__file__).resolve().parent / "moto_fidelity.py"
ENV_NAME = "legacy"
# moto loads AWS's managed IAM policies only when asked; the legacy roles attach four.
MOTO_SETTINGS = {"MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}


@dataclass(frozen=True)
class AdoptedWorld:
    """The legacy system after `cdktf`'s stack adopted it (imports applied)."""

    endpoint: str
    environ: dict[str, str]
    tools: local_aws.TerraformTools
    env: Environment
    outdir: Path
    stack_dir: Path
    legacy_dir: Path
    backend_dir: Path
    wheels: Path
    # The fat package every legacy function runs (what a snapshot must reproduce).
    fat_package: Path
    # What each function was before adoption (get_function_configuration, tags).
    before: dict[str, dict[str, Any]]
    plan_check_table: str
    plan_check_json: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)


def run(
    args: list[str], *, cwd: Path, environ: Mapping[str, str], timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        cwd=cwd,
        env=dict(environ),
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )


def run_ok(args: list[str], *, cwd: Path, environ: Mapping[str, str]) -> str:
    done = run(args, cwd=cwd, environ=environ)
    assert done.returncode == 0, (
        f"{args}: exit {done.returncode}\n{(done.stdout + done.stderr)[-4000:]}"
    )
    return done.stdout


def scripts_json(args: list[str], environ: Mapping[str, str]) -> dict[str, Any]:
    out = run_ok([sys.executable, "-m", "scripts", *args, "--json"], cwd=REPO_ROOT, environ=environ)
    result: dict[str, Any] = json.loads(out)
    return result


def write_fat_package(backend: Path, wheels: Path, path: Path) -> Path:
    """The legacy package: app code and every dependency unpacked beside it, one zip."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for source in sorted(backend.rglob("*")):
            relative = source.relative_to(backend).as_posix()
            if source.is_file() and relative.split("/")[0] in {"app", "lambdas", "VERSION"}:
                archive.write(source, relative)
        for wheel in sorted(wheels.glob("*.whl")):
            with zipfile.ZipFile(wheel) as dependency:
                for name in dependency.namelist():
                    archive.writestr(name, dependency.read(name))
    return path


def apply_legacy_world(
    workdir: Path, *, tools: local_aws.TerraformTools, environ: Mapping[str, str], package: Path
) -> dict[str, Any]:
    """Apply the legacy configuration in `workdir` (its own state); return its outputs."""
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.copy(LEGACY_WORLD / "main.tf", workdir / "main.tf")
    endpoint = environ["AWS_ENDPOINT_URL"]
    run_ok([tools.terraform, "init", "-input=false", "-no-color"], cwd=workdir, environ=environ)
    run_ok(
        [
            tools.terraform,
            "apply",
            "-auto-approve",
            "-input=false",
            "-no-color",
            f"-var=endpoint={endpoint}",
            f"-var=package_zip={package}",
        ],
        cwd=workdir,
        environ=environ,
    )
    out = run_ok([tools.terraform, "output", "-json"], cwd=workdir, environ=environ)
    return {name: value["value"] for name, value in json.loads(out).items()}


def legacy_env_from(outputs: Mapping[str, Any], endpoint: str) -> Environment:
    """The catalog's `legacy`, with the ids this moto generated for the legacy world."""
    return legacy_environment(
        network=VpcConfig(
            subnet_ids=tuple(outputs["subnet_ids"]),
            security_group_ids=tuple(outputs["security_group_ids"]),
        ),
        runbooks_mapping_uuid=outputs["runbooks_mapping_uuid"],
        endpoint_url=endpoint,
    )


def synth_stack(env: Environment, outdir: Path) -> Path:
    """Synthesize one stack for `env` (as main.py would for the catalog's) into `outdir`."""
    # Imported here: the jsii runtime starts with cdktf, and only the adoption tests need it.
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    from cdktf import App

    from stacks.lambda_layers_stack import LambdaLayersStack

    app = App(outdir=str(outdir))
    LambdaLayersStack(app, env.name, environment=env)
    app.synth()
    return outdir / "stacks" / env.name


def plan_check(
    stack_dir: Path, environ: Mapping[str, str], *extra: str
) -> subprocess.CompletedProcess[str]:
    return run(
        [
            sys.executable,
            "-m",
            "scripts",
            "plan-check",
            "--env",
            ENV_NAME,
            "--stack-dir",
            str(stack_dir),
            *extra,
        ],
        cwd=REPO_ROOT,
        environ=environ,
    )


def function_state(lam: Any, name: str) -> dict[str, Any]:
    config = lam.get_function_configuration(FunctionName=name)
    for noise in ("ResponseMetadata", "RevisionId", "LastModified", "Version"):
        config.pop(noise, None)
    config["Tags"] = lam.list_tags(Resource=config["FunctionArn"])["Tags"]
    concurrency = lam.get_function_concurrency(FunctionName=name)
    config["ReservedConcurrency"] = concurrency.get("ReservedConcurrentExecutions")
    return dict(config)


@contextmanager
def adopted_world(root: Path, tools: local_aws.TerraformTools) -> Iterator[AdoptedWorld]:
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[step] = round(now - clock, 1)
        clock = now

    server = local_aws.start_moto(
        log_path=root / "moto.log",
        server_args=(str(MOTO_FIDELITY),),
        extra_environ=MOTO_SETTINGS,
    )
    try:
        cli_config = local_aws.write_cli_config(root / "terraform.tfrc", tools.mirror)
        environ = local_aws.local_environ(
            server.endpoint, region="us-west-2", cli_config=cli_config
        )
        lap("start moto")

        wheels = root / "wheels"
        wheels.mkdir()
        write_wheel(wheels, "e2e_alpha", "1.0")
        backend = make_backend(root, wheels)
        package = write_fat_package(backend, wheels, root / "fat-package.zip")
        outputs = apply_legacy_world(
            root / "legacy-world", tools=tools, environ=environ, package=package
        )
        lap("legacy world (plain terraform apply)")

        lam = boto3.client(
            "lambda",
            endpoint_url=server.endpoint,
            region_name="us-west-2",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        env = legacy_env_from(outputs, server.endpoint)
        before = {name: function_state(lam, name) for name in env.function_names}

        build = ["--env", ENV_NAME, "--backend-dir", str(backend), "--build-dir", str(root / "b")]
        scripts_json(
            [
                "build-layer",
                *build,
                "--find-links",
                str(wheels),
                "--no-index",
                "--manifest",
                str(root / "b" / "layer-manifest.json"),
            ],
            environ,
        )
        scripts_json(["build-backend", *build], environ)
        lap("build layer and package")

        outdir = root / "cdktf.out"
        stack_dir = synth_stack(env, outdir)
        lap("synth legacy stack")

        checked = plan_check(stack_dir, environ, "--json")
        assert checked.returncode == 0, checked.stdout[-3000:] + checked.stderr[-3000:]
        lap("plan-check (terraform init + plan)")

        run_ok(
            [tools.terraform, "apply", "-input=false", "-no-color", "plan-check.tfplan"],
            cwd=stack_dir,
            environ=environ,
        )
        lap("terraform apply (imports)")

        yield AdoptedWorld(
            endpoint=server.endpoint,
            environ=environ,
            tools=tools,
            env=env,
            outdir=outdir,
            stack_dir=stack_dir,
            legacy_dir=root / "legacy-world",
            backend_dir=backend,
            wheels=wheels,
            fat_package=package,
            before=before,
            plan_check_table=checked.stderr,
            plan_check_json=json.loads(checked.stdout),
            timings=timings,
        )
    finally:
        server.stop()
