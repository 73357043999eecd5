"""An environment's settings, with a command's overrides, as a layer or package build.

Shared by build-layer, build-backend, demo, pipeline and invoke, so every entry point
builds exactly what deploy will look for (scripts/build/identity.py) unless told otherwise,
and a build told otherwise (--runtime, --arch, --no-bytecode; invoke's --backend-dir) never
moves `layer.zip`.
"""

from __future__ import annotations

from pathlib import Path

import artifacts
from environments import Environment
from scripts.build.identity import lock_source
from scripts.build.layer import DEFAULT_MANIFEST, LayerRequest
from scripts.build.layer_publish import Latest
from scripts.build.package_files import estimated_unzipped_bytes


def latest_policy(
    env: Environment, *, runtime: str, architecture: str, bytecode: bool, own_backend: bool = True
) -> Latest:
    if not own_backend:
        # Another backend's lock (--backend-dir): its layer is not the environment's, and
        # `layer.zip` is what Terraform's first layer version and the demo read.
        return Latest(
            update=False,
            reason=(
                f"{artifacts.LAYER_LATEST} left alone: this layer is built from "
                f"{env.backend_dir}, not {env.name}'s own backend (written under its "
                "content-addressed key only)"
            ),
        )
    own = (runtime, architecture, bytecode) == (
        env.runtime,
        env.architecture,
        env.backend.bytecode,
    )
    if own:
        return Latest()
    settings = f"{runtime} on {architecture}{'' if bytecode else ', no bytecode'}"
    default = (
        f"{env.runtime} on {env.architecture}{'' if env.backend.bytecode else ', no bytecode'}"
    )
    return Latest(
        update=False,
        reason=(
            f"{artifacts.LAYER_LATEST} left alone: this layer is for {settings}, "
            f"{env.name}'s is for {default} (written under its content-addressed key only)"
        ),
    )


def layer_request(
    env: Environment,
    *,
    build_dir: Path,
    manifest_path: Path = DEFAULT_MANIFEST,
    runtime: str | None = None,
    architecture: str | None = None,
    no_bytecode: bool = False,
    allow_unhashed: bool = False,
    index_args: tuple[str, ...] = (),
    key_prefix: str = "",
    scratch_dir: Path | None = None,
    own_backend: bool = True,
) -> LayerRequest:
    runtime = runtime or env.runtime
    architecture = architecture or env.architecture
    bytecode = env.backend.bytecode and not no_bytecode
    return LayerRequest(
        lock=lock_source(env),
        runtime=runtime,
        architecture=architecture,
        build_dir=build_dir,
        manifest_path=manifest_path,
        function_bytes=estimated_unzipped_bytes(env.backend_dir, env.backend.package),
        bytecode=bytecode,
        allow_unhashed=allow_unhashed or env.backend.allow_unhashed,
        latest=latest_policy(
            env,
            runtime=runtime,
            architecture=architecture,
            bytecode=bytecode,
            own_backend=own_backend,
        ),
        index_args=index_args,
        key_prefix=key_prefix,
        scratch_dir=scratch_dir,
    )
