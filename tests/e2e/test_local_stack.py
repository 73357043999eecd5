"""End to end: real terraform applies the `local` stack to a moto server, then the CLI
deploys, rolls back and prunes, and `terraform plan` sees no drift.

Kept fast (well under three minutes) by a small backend whose dependencies are wheels
written here (no package index); the pipeline is the real one: `python -m scripts`,
`npx cdktf deploy local`, terraform with the provider from the offline mirror.

Needs terraform on PATH and TF_PLUGIN_MIRROR (the mirror root). Without them the test
is skipped, except in CI (LAYERS_REQUIRE_E2E=1), where it fails.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from environments import ENVIRONMENTS, REPO_ROOT
from scripts.cli import main
from scripts.local import aws as local_aws

from .offline_backend import make_backend, write_deps, write_wheel

pytestmark = pytest.mark.e2e

ENV = ENVIRONMENTS["local"]


@pytest.fixture(scope="module")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A moto server of its own: the local stack's names are fixed, nothing else shares them."""
    server = local_aws.start_moto(log_path=tmp_path_factory.mktemp("moto") / "moto.log")
    try:
        yield server.endpoint
    finally:
        server.stop()


def _run(args: list[str], *, env: dict[str, str], cwd: Path = REPO_ROOT) -> str:
    done = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=600
    )
    assert done.returncode == 0, (
        f"{args}: exit {done.returncode}\n{(done.stdout + done.stderr)[-4000:]}"
    )
    return done.stdout


def _scripts(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    out = _run([sys.executable, "-m", "scripts", *args, "--json"], env=env)
    result: dict[str, Any] = json.loads(out)
    return result


def _no_drift(tools: local_aws.TerraformTools, stack_dir: Path, environ: dict[str, str]) -> None:
    plan = subprocess.run(
        [tools.terraform, "plan", "-detailed-exitcode", "-input=false", "-no-color"],
        cwd=stack_dir,
        env=environ,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert plan.returncode == 0, plan.stdout[-4000:] + plan.stderr[-2000:]


def _functions(lam: Any) -> dict[str, tuple[str, tuple[str, ...]]]:
    """What callers get: the alias's version when there is one, else the function itself."""
    states = {}
    for name in ENV.function_names:
        try:
            config = lam.get_function_configuration(FunctionName=name, Qualifier=ENV.alias_name)
        except lam.exceptions.ResourceNotFoundException:
            config = lam.get_function_configuration(FunctionName=name)
        states[name] = (config["CodeSha256"], tuple(x["Arn"] for x in config.get("Layers", [])))
    return states


def test_terraform_then_deploy_rollback_prune_without_drift(
    tools: local_aws.TerraformTools,
    moto_endpoint: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    started = time.perf_counter()
    cli_config = local_aws.write_cli_config(tmp_path / "terraform.tfrc", tools.mirror)
    environ = local_aws.local_environ(moto_endpoint, region=ENV.region, cli_config=cli_config)
    for name, value in environ.items():
        if name.startswith("AWS_"):
            monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    s3 = boto3.client(
        "s3", endpoint_url=moto_endpoint, config=Config(s3={"addressing_style": "path"})
    )
    lam = boto3.client("lambda", endpoint_url=moto_endpoint)
    # The frontend bucket exists before the stack (the stack only reads it).
    s3.create_bucket(
        Bucket=ENV.artifact_bucket,
        CreateBucketConfiguration={"LocationConstraint": ENV.region},  # type: ignore[typeddict-item]
    )

    wheels = tmp_path / "wheels"
    wheels.mkdir()
    write_wheel(wheels, "e2e_alpha", "1.0")
    write_wheel(wheels, "e2e_beta", "2.0")
    backend = make_backend(tmp_path, wheels)
    build = ["--env", "local", "--backend-dir", str(backend), "--build-dir", str(tmp_path / "b")]
    layer_args = [*build, "--find-links", str(wheels), "--no-index"]
    layer_args += ["--manifest", str(tmp_path / "b" / "layer-manifest.json")]
    first_layer = _scripts(["build-layer", *layer_args], environ)
    package = _scripts(["build-backend", *build], environ)

    # Terraform creates the layer's first version and the four functions.
    outdir = tmp_path / "cdktf.out"
    local_aws.cdktf_deploy(
        npx=tools.npx,
        stack="local",
        outdir=outdir,
        environ=environ,
        cwd=REPO_ROOT,
        log_path=tmp_path / "cdktf-deploy.log",
    )
    stack_dir = outdir / "stacks" / "local"
    terraform_state = _functions(lam)
    (terraform_layer,) = {layers for _, layers in terraform_state.values()}
    assert {code for code, _ in terraform_state.values()} == {package["code_sha256"]}

    # A dependency is added: the lock changes, so does the layer hash.
    write_deps(backend, wheels, [("e2e_alpha", "1.0"), ("e2e_beta", "2.0")])
    second_layer = _scripts(["build-layer", *layer_args], environ)
    assert second_layer["hash"] != first_layer["hash"]
    assert second_layer["built"] is True

    deploy_args = ["deploy", "--env", "local", "--backend-dir", str(backend)]
    deployed = _scripts(deploy_args, environ)
    assert deployed["published"] is True
    new_arn = deployed["layer_version_arn"]
    assert new_arn != terraform_layer[0]
    assert _functions(lam) == {
        name: (package["code_sha256"], (new_arn,)) for name in ENV.function_names
    }
    assert all(
        "layers" in f["steps"] and "switch" in f["steps"] for f in deployed["functions"].values()
    )

    # Terraform ignores what the deploy manages: no drift.
    _no_drift(tools, stack_dir, environ)

    # Deploy again, in-process, counting every AWS call it makes.
    calls: list[str] = []
    boto3.setup_default_session()
    assert boto3.DEFAULT_SESSION is not None
    boto3.DEFAULT_SESSION.events.register(
        "provide-client-params", lambda model, **_: calls.append(model.name)
    )
    repeat_started = time.perf_counter()
    code = main([*deploy_args, "--json"])
    repeat_seconds = time.perf_counter() - repeat_started
    out = capsys.readouterr().out
    assert code == 0
    again = json.loads(out)
    assert again["published"] is False
    assert again["layer_version_arn"] == new_arn
    assert again["state"] == "unchanged"
    assert not any(f["steps"] for f in again["functions"].values())
    assert not {
        "UpdateFunctionCode",
        "UpdateFunctionConfiguration",
        "PublishLayerVersion",
        "PublishVersion",
        "UpdateAlias",
        "CreateAlias",
    } & set(calls)
    versions = lam.list_layer_versions(LayerName=ENV.layer_name)["LayerVersions"]
    assert sorted(v["Version"] for v in versions) == [1, 2]

    rolled = _scripts(["rollback", "--env", "local", "--previous"], environ)
    assert rolled["state"] == "succeeded"
    assert _functions(lam) == terraform_state
    _no_drift(tools, stack_dir, environ)

    pruned = _scripts(["prune-layers", "--env", "local", "--keep", "1", "--apply"], environ)
    in_use = {arn for _, layers in _functions(lam).values() for arn in layers}
    remaining = {
        v["LayerVersionArn"]
        for v in lam.list_layer_versions(LayerName=ENV.layer_name)["LayerVersions"]
    }
    assert in_use <= remaining
    assert pruned["deleted"] == []
    assert set(pruned["kept"]) == {"1", "2"}

    print(
        f"\ne2e: {time.perf_counter() - started:.1f}s; repeated deploy {repeat_seconds:.2f}s, "
        f"{len(calls)} AWS calls: {calls}"
    )
