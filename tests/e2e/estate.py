"""The real estate (../shared/design/real-estate.md) built on moto the way it grew: its own
Terraform root (tests/e2e/estate_world) and its deploy workflow's out-of-band steps.

`build_estate(root, tools)` starts moto (with AWS's managed IAM policies), applies the root
with its own state, then runs the workflow once (`run_workflow`): the newest deps layer
version attached to the seven zip workers, fat-package code on every zip function's
`$LATEST`, a version published and the `staging` alias created on the API only, the last
three versions kept. Nothing here is read from our configuration: discover has to find it.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from scripts.local import aws as local_aws

from .adoption import MOTO_FIDELITY, MOTO_SETTINGS, run_ok, write_fat_package
from .offline_backend import make_backend, write_wheel

ESTATE_WORLD = Path(__file__).resolve().parent / "estate_world"
PREFIX = "bluemoxon-staging-"
REGION = "us-west-2"
# The zip functions the workflow attaches the deps layer to (api and db-sync excluded).
LAYER_WORKERS = (
    "analysis-worker",
    "eval-runbook-worker",
    "profile-worker",
    "tracking-dispatcher",
    "tracking-worker",
    "cleanup",
    "retry-queue-failed",
)
ZIP_FUNCTIONS = ("api", *LAYER_WORKERS, "db-sync")
IMAGE_FUNCTIONS = ("image-processor", "scraper")
ALIAS = "staging"
KEEP_VERSIONS = 3

# The estate's handlers: `{"version": true}` answers with the package's version (the
# workflow's smoke check), anything else with the function's name.
_HANDLER = (
    "import json\nimport pathlib\n\nimport e2e_alpha\n\n"
    "ROOT = pathlib.Path(__file__).resolve().parents[{up}]\n\n\n"
    "def handler(event, context):\n"
    "    if isinstance(event, dict) and event.get('version'):\n"
    "        info = ROOT / 'version_info.json'\n"
    "        if info.exists():\n"
    "            return {{'function': {name!r}, **json.loads(info.read_text())}}\n"
    "        return {{'function': {name!r}, 'version': (ROOT / 'VERSION').read_text().strip()}}\n"
    "    return {{'ok': {name!r}, 'alpha': e2e_alpha.VERSION}}\n"
)
ESTATE_MODULES = {
    "app/__init__.py": "",
    "app/main.py": ("api", 1),
    "app/worker.py": ("analysis-worker", 1),
    "app/eval_worker.py": ("eval-runbook-worker", 1),
    "app/services/__init__.py": "",
    "app/services/profile_worker.py": ("profile-worker", 2),
    "app/workers/__init__.py": "",
    "app/workers/tracking_dispatcher.py": ("tracking-dispatcher", 2),
    "app/workers/tracking_worker.py": ("tracking-worker", 2),
    "lambdas/__init__.py": "",
    "lambdas/cleanup/__init__.py": "",
    "lambdas/cleanup/handler.py": ("cleanup", 2),
    "lambdas/retry_queue_failed/__init__.py": "",
    "lambdas/retry_queue_failed/handler.py": ("retry-queue-failed", 2),
}


@dataclass(frozen=True)
class Estate:
    endpoint: str
    environ: dict[str, str]
    root_dir: Path
    backend_dir: Path
    wheels: Path
    fat_package: Path
    db_sync_package: Path
    outputs: dict[str, Any]


def make_estate_backend(root: Path, wheels: Path) -> Path:
    backend = make_backend(root, wheels)
    for relative, spec in ESTATE_MODULES.items():
        path = backend / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(spec, str):
            path.write_text(spec)
        else:
            name, up = spec
            path.write_text(_HANDLER.format(name=name, up=up))
    return backend


def _zip(files: Mapping[str, str], path: Path) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in sorted(files.items()):
            archive.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), text)
    return path


def lambda_client(endpoint: str) -> Any:
    return boto3.client(
        "lambda",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def apply_estate(
    workdir: Path, *, tools: local_aws.TerraformTools, environ: Mapping[str, str], **zips: Path
) -> dict[str, Any]:
    """Apply the estate's root in `workdir` (its own state); return its outputs."""
    shutil.copytree(ESTATE_WORLD, workdir, dirs_exist_ok=True)
    variables = [f"-var={name}={path}" for name, path in zips.items()]
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
            *variables,
        ],
        cwd=workdir,
        environ=environ,
    )
    out = run_ok([tools.terraform, "output", "-json"], cwd=workdir, environ=environ)
    return {name: value["value"] for name, value in json.loads(out).items()}


def run_workflow(lam: Any, *, package: Path, layer_zip: bytes) -> dict[str, Any]:
    """The deploy workflow's run: publish the layer, attach it to the seven zip workers,
    update code on `$LATEST`, publish a version and move `staging` on the API only."""
    layer = lam.publish_layer_version(
        LayerName=f"{PREFIX}deps",
        Content={"ZipFile": layer_zip},
        CompatibleRuntimes=["python3.12"],
    )
    code = package.read_bytes()
    for short in ZIP_FUNCTIONS:
        name = PREFIX + short
        if short == "db-sync":
            continue  # its own package, deployed by hand
        lam.update_function_code(FunctionName=name, ZipFile=code)
        if short in LAYER_WORKERS:
            lam.update_function_configuration(FunctionName=name, Layers=[layer["LayerVersionArn"]])
    api = PREFIX + "api"
    version = lam.publish_version(FunctionName=api)["Version"]
    try:
        lam.update_alias(FunctionName=api, Name=ALIAS, FunctionVersion=version)
    except lam.exceptions.ResourceNotFoundException:
        lam.create_alias(FunctionName=api, Name=ALIAS, FunctionVersion=version)
    versions = [
        v["Version"]
        for v in lam.list_versions_by_function(FunctionName=api)["Versions"]
        if v["Version"] != "$LATEST"
    ]
    for old in sorted(versions, key=int)[:-KEEP_VERSIONS]:
        lam.delete_function(FunctionName=api, Qualifier=old)
    return {"layer_version_arn": layer["LayerVersionArn"], "api_version": version}


def layer_zip_bytes(wheels: Path) -> bytes:
    """The deps layer as the workflow builds it: every wheel unpacked under python/."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for wheel in sorted(wheels.glob("*.whl")):
            with zipfile.ZipFile(wheel) as dependency:
                for name in dependency.namelist():
                    archive.writestr(f"python/{name}", dependency.read(name))
    return buffer.getvalue()


def start_estate_moto(root: Path) -> local_aws.MotoServer:
    return local_aws.start_moto(
        log_path=root / "moto.log", server_args=(str(MOTO_FIDELITY),), extra_environ=MOTO_SETTINGS
    )


# Terraform's AWS provider resends a CreateFunction whose answer it lost (moto on a loaded
# machine: seen once with 4 test workers and other jobs on 2 cores) and then retries the
# 409 "Function already exist" until its timeout: that world never gets built. Only then
# is a new world (its own moto, its own folder) built once more; any other failure stands.
_LOST_CREATE = "ResourceConflictException: Function already exist"


@contextlib.contextmanager
def running_estate(
    factory: pytest.TempPathFactory, name: str, tools: local_aws.TerraformTools
) -> Iterator[Estate]:
    """A built estate on its own moto, stopped afterwards (a module fixture's body)."""
    for attempt in (1, 2):
        root = factory.mktemp(name)
        server = start_estate_moto(root)
        try:
            try:
                estate = build_estate(root, tools, server)
            except AssertionError as err:
                if attempt == 2 or _LOST_CREATE not in str(err):
                    raise
                continue
            yield estate
            return
        finally:
            server.stop()


def build_estate(
    root: Path, tools: local_aws.TerraformTools, server: local_aws.MotoServer
) -> Estate:
    cli_config = local_aws.write_cli_config(root / "terraform.tfrc", tools.mirror)
    environ = local_aws.local_environ(server.endpoint, region=REGION, cli_config=cli_config)
    wheels = root / "wheels"
    wheels.mkdir()
    write_wheel(wheels, "e2e_alpha", "1.0")
    backend = make_estate_backend(root, wheels)
    fat = write_fat_package(backend, wheels, root / "fat-package.zip")
    db_sync = _zip(
        {"handler.py": "def handler(event, context):\n    return {'ok': 'db-sync'}\n"},
        root / "db-sync.zip",
    )
    layer = layer_zip_bytes(wheels)
    (root / "layer.zip").write_bytes(layer)
    outputs = apply_estate(
        root / "estate-root",
        tools=tools,
        environ=environ,
        package_zip=fat,
        db_sync_zip=db_sync,
        layer_zip=root / "layer.zip",
    )
    run_workflow(lambda_client(server.endpoint), package=fat, layer_zip=layer)
    return Estate(
        endpoint=server.endpoint,
        environ=environ,
        root_dir=root / "estate-root",
        backend_dir=backend,
        wheels=wheels,
        fat_package=fat,
        db_sync_package=db_sync,
        outputs=outputs,
    )
