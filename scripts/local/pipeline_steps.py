"""Two of the pipeline's steps once the server is up: build the artifacts, apply the stack.

Each takes what it needs and returns its part of the pipeline's result (one reporter line
each); `pipeline.run_pipeline` runs them in order and owns the moto server around them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from environments import REPO_ROOT, Environment
from scripts.build.backend import PackageSource, build_backend
from scripts.build.install_requests import layer_request
from scripts.build.layer import build_layer, scratch_root
from scripts.local import aws as local_aws
from scripts.local.report import Reporter
from scripts.store import S3Store

if TYPE_CHECKING:
    from scripts.local.pipeline import StateDir

_LAYER_FIELDS = ("hash", "key", "zip_bytes", "unzipped_bytes", "code_sha256")
_PACKAGE_FIELDS = ("hash", "key", "code_sha256", "zip_bytes", "unzipped_bytes", "uploaded")


@dataclass(frozen=True)
class Built:
    layer: dict[str, Any]
    package: dict[str, Any]
    package_zip_bytes: int

    def as_json(self) -> dict[str, Any]:
        return {"layer": self.layer, "package": self.package}


def build_artifacts(
    env: Environment,
    build_dir: Path,
    store: S3Store,
    reporter: Reporter,
    *,
    index_args: tuple[str, ...],
) -> Built:
    """The layer (a cache hit when the bucket has its hash) and the function package."""
    source = PackageSource.resolve(env.backend_dir, env.backend.package, environment=env.name)
    with reporter.step("build layer", heartbeat=True) as note:
        layer = build_layer(
            layer_request(
                env,
                build_dir=build_dir,
                manifest_path=build_dir / "layer-manifest.json",
                index_args=index_args,
                key_prefix=env.key_prefix,
                scratch_dir=scratch_root(),
            ),
            store,
        )
        manifest = layer.manifest
        note["text"] = (
            f"built {manifest['hash']}"
            if layer.built
            else f"cache hit: {manifest['hash']} is in the bucket, nothing built"
        )
    with reporter.step("build function package") as note:
        package = build_backend(
            source=source, store=store, build_dir=build_dir, functions=env.released_functions
        )
        note["text"] = f"{package.hash}, {'uploaded' if package.uploaded else 'in the bucket'}"
    return Built(
        layer={"built": layer.built, **{name: manifest[name] for name in _LAYER_FIELDS}},
        package={name: package.as_json()[name] for name in _PACKAGE_FIELDS},
        package_zip_bytes=package.zip_bytes,
    )


def terraform_apply(
    env: Environment,
    state: StateDir,
    tools: local_aws.TerraformTools,
    *,
    endpoint: str,
    reporter: Reporter,
    log: IO[str],
) -> dict[str, Any]:
    """`cdktf deploy ENV` against the server, providers from the offline mirror."""
    local_aws.write_cli_config(state.cli_config, tools.mirror)
    environ = local_aws.local_environ(endpoint, region=env.region, cli_config=state.cli_config)
    log.flush()
    since = reporter.log_path.stat().st_size
    with reporter.step(f"cdktf deploy {env.name} (terraform apply)") as note:
        local_aws.cdktf_deploy(
            npx=tools.npx,
            stack=env.name,
            outdir=state.synth_dir,
            environ=environ,
            cwd=REPO_ROOT,
            log_path=reporter.log_path,
            tick=lambda elapsed, last: reporter.tick("terraform", elapsed, last),
        )
        summary = local_aws.terraform_summary(reporter.log_path, since=since)
        note["text"] = summary
    return {"summary": summary, "changed": summary != "no changes"}
