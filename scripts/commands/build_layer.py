"""`build-layer`: the dependencies layer, built only when the store does not have it yet."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scripts import args as common
from scripts import progress
from scripts.build.layer import DEFAULT_MANIFEST, LayerRequest, build_layer, scratch_root
from scripts.errors import BadInputError


def run(args: argparse.Namespace) -> Mapping[str, Any]:
    env = common.environment(args)
    if env.lock_file is None or env.requirements_file is None:
        raise BadInputError(f"{env.name}: lock_file and requirements_file must be configured")
    store = common.store(args, env)
    request = LayerRequest(
        lock_file=env.lock_file,
        requirements_file=env.requirements_file,
        runtime=args.runtime or env.runtime,
        architecture=args.arch or env.architecture,
        build_dir=Path(args.build_dir),
        manifest_path=Path(args.manifest),
        backend_dir=env.backend_dir,
        index_args=common.index_args(args),
        scratch_dir=scratch_root(),
    )
    progress.say(f"build-layer {env.name}: {env.lock_file} -> {store.location}")
    result = build_layer(request, store)
    manifest = result.manifest
    progress.say(
        f"layer {manifest['hash']} {'built' if result.built else 'reused (cache hit)'}: "
        f"{manifest['zip_bytes']:,} bytes zipped, {manifest['unzipped_bytes']:,} unzipped; "
        f"manifest {result.manifest_path}"
    )
    return result.as_json()


def register(subparsers: common.Subparsers[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "build-layer", help="build the dependencies layer unless the store already has it"
    )
    common.add_env(parser)
    common.add_store(parser)
    parser.add_argument("--runtime", help="Lambda runtime (default: the environment's)")
    parser.add_argument(
        "--arch", choices=("x86_64", "arm64"), help="architecture (default: the environment's)"
    )
    parser.add_argument("--build-dir", default="build", help="local output directory")
    parser.add_argument("--manifest", default=str(DEFAULT_MANIFEST), help="local manifest path")
    common.add_index(parser)
    common.add_backend_dir(parser)
    parser.set_defaults(handler=run)
    return parser
