"""End to end: real terraform applies the `local` stack to a moto server, then the CLI
deploys, rolls back and prunes, and `terraform plan` sees no drift.

Kept fast (well under three minutes) by a small backend whose dependencies are wheels
written here (no package index); the pipeline is the real one: `python -m scripts`,
`npx cdktf deploy local`, terraform with the provider from the offline mirror.

Needs terraform on PATH and TF_PLUGIN_MIRROR (the mirror root). Without them the test
is skipped, except in CI (LAYERS_REQUIRE_E2E=1), where it fails.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from environments import ENVIRONMENTS, REPO_ROOT
from scripts.cli import main

pytestmark = pytest.mark.e2e

ENV = ENVIRONMENTS["local"]
REQUIRE = os.environ.get("LAYERS_REQUIRE_E2E") == "1"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": ENV.region,
}


def _missing(reason: str) -> None:
    if REQUIRE:
        pytest.fail(f"{reason} (LAYERS_REQUIRE_E2E=1: the end-to-end test must run)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def tools() -> dict[str, str]:
    terraform = shutil.which("terraform")
    npx = shutil.which("npx")
    mirror = os.environ.get("TF_PLUGIN_MIRROR", "")
    if terraform is None:
        _missing("terraform CLI not on PATH")
    if not mirror or not (Path(mirror) / "registry.terraform.io").is_dir():
        _missing(
            "TF_PLUGIN_MIRROR is not set to a provider mirror (a registry.terraform.io parent)"
        )
    if npx is None:
        _missing("npx not found: install Node 20 and run `make setup`")
    assert terraform is not None
    assert npx is not None
    return {"terraform": terraform, "npx": npx, "mirror": mirror}


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """A moto server of its own: the local stack's names are fixed, nothing else shares them."""
    from moto.server import ThreadedMotoServer

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def _write_wheel(directory: Path, name: str, version: str) -> Path:
    dist_info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f"VERSION = {version!r}\n".encode(),
        f"{dist_info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
        ),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: e2e\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n",
    }
    record = ""
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record += f"{path},sha256={digest},{len(data)}\n"
    files[f"{dist_info}/RECORD"] = (record + f"{dist_info}/RECORD,,\n").encode()
    wheel = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in files.items():
            archive.writestr(zipfile.ZipInfo(path, date_time=(2024, 1, 1, 0, 0, 0)), data)
    return wheel


def _write_deps(backend: Path, wheels: Path, pins: list[tuple[str, str]]) -> None:
    """poetry.lock and its exported requirements.txt (with hashes) for `pins`."""
    lock = "# e2e lock\n\n" + "".join(
        f'[[package]]\nname = "{n}"\nversion = "{v}"\noptional = false\n'
        f'groups = ["main"]\nfiles = []\n\n'
        for n, v in pins
    )
    (backend / "poetry.lock").write_text(lock)
    lines = []
    for name, version in pins:
        digest = hashlib.sha256(
            (wheels / f"{name}-{version}-py3-none-any.whl").read_bytes()
        ).hexdigest()
        lines.append(f"{name}=={version} \\\n    --hash=sha256:{digest}")
    (backend / "requirements.txt").write_text("\n".join(lines) + "\n")


def _backend(root: Path, wheels: Path) -> Path:
    backend = root / "backend"
    shutil.copytree(ENV.backend_dir / "app", backend / "app")
    shutil.copytree(ENV.backend_dir / "lambdas", backend / "lambdas")
    shutil.copy(ENV.backend_dir / "VERSION", backend / "VERSION")
    _write_deps(backend, wheels, [("e2e_alpha", "1.0")])
    return backend


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


def _functions(lam: Any) -> dict[str, tuple[str, tuple[str, ...]]]:
    states = {}
    for name in ENV.function_names:
        config = lam.get_function_configuration(FunctionName=name)
        states[name] = (config["CodeSha256"], tuple(x["Arn"] for x in config.get("Layers", [])))
    return states


def test_terraform_then_deploy_rollback_prune_without_drift(
    tools: dict[str, str],
    moto_endpoint: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    started = time.perf_counter()
    cli_config = tmp_path / "terraform.tfrc"
    cli_config.write_text(
        "provider_installation {\n"
        f"  filesystem_mirror {{\n    path = {json.dumps(tools['mirror'])}\n"
        '    include = ["registry.terraform.io/hashicorp/*"]\n  }\n'
        '  direct {\n    exclude = ["registry.terraform.io/hashicorp/*"]\n  }\n}\n'
    )
    environ = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        **CREDENTIALS,
        "AWS_ENDPOINT_URL": moto_endpoint,
        "TF_CLI_CONFIG_FILE": str(cli_config),
        "TF_IN_AUTOMATION": "1",
        "CHECKPOINT_DISABLE": "1",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "CI": "1",
    }
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
    _write_wheel(wheels, "e2e_alpha", "1.0")
    _write_wheel(wheels, "e2e_beta", "2.0")
    backend = _backend(tmp_path, wheels)
    build = ["--env", "local", "--backend-dir", str(backend), "--build-dir", str(tmp_path / "b")]
    layer_args = [*build, "--find-links", str(wheels), "--no-index"]
    layer_args += ["--manifest", str(tmp_path / "b" / "layer-manifest.json")]
    first_layer = _scripts(["build-layer", *layer_args], environ)
    package = _scripts(["build-backend", *build], environ)

    # Terraform creates the layer's first version and the four functions.
    outdir = tmp_path / "cdktf.out"
    _run(
        [
            tools["npx"],
            "--no-install",
            "cdktf",
            "deploy",
            "local",
            "--auto-approve",
            "--skip-provider-lock",
            "--output",
            str(outdir),
        ],
        env=environ,
    )
    stack_dir = outdir / "stacks" / "local"
    terraform_state = _functions(lam)
    (terraform_layer,) = {layers for _, layers in terraform_state.values()}
    assert {code for code, _ in terraform_state.values()} == {package["code_sha256"]}

    # A dependency is added: the lock changes, so does the layer hash.
    _write_deps(backend, wheels, [("e2e_alpha", "1.0"), ("e2e_beta", "2.0")])
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
    assert all(f["layers_updated"] for f in deployed["functions"].values())

    # Terraform ignores what the deploy manages: no drift.
    plan = subprocess.run(
        [tools["terraform"], "plan", "-detailed-exitcode", "-input=false", "-no-color"],
        cwd=stack_dir,
        env=environ,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert plan.returncode == 0, plan.stdout[-4000:] + plan.stderr[-2000:]

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
    assert not any(f["updated"] for f in again["functions"].values())
    assert not {"UpdateFunctionCode", "UpdateFunctionConfiguration", "PublishLayerVersion"} & set(
        calls
    )
    versions = lam.list_layer_versions(LayerName=ENV.layer_name)["LayerVersions"]
    assert sorted(v["Version"] for v in versions) == [1, 2]

    rolled = _scripts(["rollback", "--env", "local", "--previous"], environ)
    assert rolled["layer_version_arn"] == terraform_layer[0]
    assert _functions(lam) == terraform_state

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
