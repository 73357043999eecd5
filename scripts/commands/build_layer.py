"""`build-layer`: the dependencies layer, built only when the store does not have it yet."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from environments import REPO_ROOT
from scripts import args as common
from scripts import progress
from scripts.build.install_requests import layer_request
from scripts.build.layer import DEFAULT_MANIFEST, build_layer, scratch_root


def run(args: argparse.Namespace) -> Mapping[str, Any]:
    env = common.environment(args)
    store = common.store(args, env)
    common.check_account(env, store)
    request = layer_request(
        env,
        build_dir=Path(args.build_dir),
        manifest_path=Path(args.manifest),
        runtime=args.runtime,
        architecture=args.arch,
        no_bytecode=args.no_bytecode,
        allow_unhashed=args.allow_unhashed,
        index_args=common.index_args(args),
        scratch_dir=scratch_root(),
    )
    progress.say(f"build-layer {env.name}: {env.lock_file} -> {store.location}")
    result = build_layer(request, store)
    manifest = result.manifest
    bytecode = manifest.get("bytecode")
    progress.say(
        f"layer {manifest['hash']} {'built' if result.built else 'reused (cache hit)'}: "
        f"{manifest['zip_bytes']:,} bytes zipped, {manifest['unzipped_bytes']:,} unzipped "
        f"({'bytecode for Python ' + bytecode['python'] if bytecode else 'no bytecode'}); "
        f"manifest {result.manifest_path}"
    )
    if manifest.get("allow_unhashed"):
        progress.say(
            "warning: built without hash checking (--allow-unhashed) for "
            f"{', '.join(manifest.get('unhashed', []))}"
        )
    if result.latest_skipped:
        progress.say(result.latest_skipped)
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
    parser.add_argument(
        "--build-dir",
        default=str(REPO_ROOT / "build"),
        help="local output directory (default: build/ in the checkout)",
    )
    parser.add_argument("--manifest", default=str(DEFAULT_MANIFEST), help="local manifest path")
    common.add_layer_options(parser)
    common.add_index(parser)
    common.add_backend_dir(parser)
    parser.set_defaults(handler=run)
    return parser
