"""`demo`: the main job on the embedded default, no AWS account needed.

Builds the layer and the function package for the example backend into the local store
(`.local-store/BUCKET/lambda/`, laid out like the bucket), then synthesizes the CDKTF app.
Run it twice: the second run finds `layer-HASH.zip` in the store and skips the build.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from environments import REPO_ROOT, Environment
from scripts import progress
from scripts.build.backend import PackageSource, build_backend
from scripts.build.bytecode import find_interpreter
from scripts.build.install_requests import layer_request
from scripts.build.layer import build_layer, scratch_root
from scripts.errors import BadInputError, ToolError
from scripts.store import LocalStore

SYNTH_OUT = "cdktf.out"


def synthesize(repo_root: Path) -> Path:
    """`npx cdktf synth` in the repository: the real CLI, as a user would run it."""
    if not (repo_root / "cdktf.json").is_file():
        raise BadInputError(f"{repo_root}/cdktf.json not found: run from the repository")
    npx = shutil.which("npx")
    if npx is None:
        raise BadInputError("npx not found: install Node.js 20 and run `npm ci`")
    env = {
        **os.environ,
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "CHECKPOINT_DISABLE": "1",
    }
    completed = subprocess.run(
        [npx, "--no-install", "cdktf", "synth"],
        cwd=repo_root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        lines = [line for line in (completed.stderr + completed.stdout).splitlines() if line]
        raise ToolError(f"cdktf synth failed: {' | '.join(lines[-6:])}")
    return repo_root / SYNTH_OUT


def runtime_python_available(env: Environment) -> bool:
    """The demo runs on any Python >= 3.11: without the runtime's interpreter it builds the
    layer without bytecode (and says so) instead of stopping; build-layer stops instead."""
    if not env.backend.bytecode:
        return True
    try:
        find_interpreter(env.runtime.removeprefix("python"))
    except BadInputError as err:
        progress.say(f"  note: building the layer without bytecode: {err}")
        return False
    return True


def demo(*, env: Environment, store: LocalStore, build_dir: Path, synth: bool) -> dict[str, Any]:
    """Build the layer and the package into `store`, then synthesize; report what was done."""
    started = time.perf_counter()
    progress.say(f"demo {env.name}: artifacts into {store.location}")
    # Resolved first: a missing version fails before the layer's install.
    source = PackageSource.resolve(env.backend_dir, env.backend.package, environment=env.name)
    layer = build_layer(
        layer_request(
            env,
            no_bytecode=not runtime_python_available(env),
            build_dir=build_dir,
            manifest_path=build_dir / "layer-manifest.json",
            key_prefix=env.key_prefix,
            scratch_dir=scratch_root(),
        ),
        store,
    )
    layer_seconds = time.perf_counter() - started
    backend = build_backend(
        source=source,
        store=store,
        build_dir=build_dir,
        functions=env.released_functions,
        key_prefix=env.key_prefix,
    )
    synth_dir: Path | None = None
    if synth:
        with progress.step("cdktf synth"):
            synth_dir = synthesize(REPO_ROOT)
    manifest = layer.manifest
    verdict = "built" if layer.built else "cache hit, build skipped"
    progress.say("")
    progress.say(f"layer    {manifest['hash']} ({verdict}, {layer_seconds:.1f}s)")
    progress.say(
        f"         {store.root / str(manifest['key']).removeprefix(env.key_prefix)}: "
        f"{manifest['zip_bytes']:,} bytes zipped, {manifest['unzipped_bytes']:,} unzipped"
    )
    progress.say(f"         manifest {layer.manifest_path}")
    progress.say(
        f"package  {backend.hash}: {backend.path} ({backend.zip_bytes:,} bytes), "
        f"VERSION {backend.version}"
    )
    progress.say(f"store    {store.location} (mirrors s3://{env.artifact_bucket}/{env.key_prefix})")
    if synth_dir is not None:
        progress.say(f"synth    {synth_dir}")
    return {
        "env": env.name,
        "store": store.location,
        "layer": layer.as_json(),
        "backend": backend.as_json(),
        "synth_dir": None if synth_dir is None else str(synth_dir),
        "seconds": round(time.perf_counter() - started, 1),
    }
