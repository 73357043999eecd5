"""`build-backend`: the function package (app code only), uploaded content-addressed."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from environments import REPO_ROOT
from scripts import args as common
from scripts import progress
from scripts.build.backend import PackageSource, build_backend


def run(args: argparse.Namespace) -> Mapping[str, Any]:
    env = common.environment(args)
    # The version first: a missing one fails before anything is zipped or uploaded.
    source = PackageSource.resolve(
        env.backend_dir, env.backend.package, version=args.version, environment=env.name
    )
    store = common.store(args, env)
    common.check_account(env, store)
    progress.say(f"build-backend {env.name}: {env.backend_dir} -> {store.location}")
    result = build_backend(
        source=source,
        store=store,
        build_dir=Path(args.build_dir),
        functions=env.released_functions,
    )
    progress.say(
        f"backend {result.hash}: {result.files} files, {result.zip_bytes:,} bytes zipped, "
        f"{result.unzipped_bytes:,} unzipped, version {result.version} ({result.version_source})"
    )
    return result.as_json()


def register(subparsers: common.Subparsers[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "build-backend", help="zip the function package and upload it content-addressed"
    )
    common.add_env(parser)
    common.add_store(parser)
    parser.add_argument(
        "--build-dir",
        default=str(REPO_ROOT / "build"),
        help="local output directory (default: build/ in the checkout)",
    )
    common.add_version(parser)
    common.add_backend_dir(parser)
    parser.set_defaults(handler=run)
    return parser
