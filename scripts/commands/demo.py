"""`demo`: the main job on the embedded default (a local store), no AWS account needed."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from environments import REPO_ROOT, get_environment
from scripts import args as common
from scripts.local.demo import demo
from scripts.store import LOCAL_STORE_DIR, local_env_store


def run(args: argparse.Namespace) -> Mapping[str, Any]:
    env = get_environment(args.env)
    store = local_env_store(env, Path(args.local_store) if args.local_store else None)
    build_dir = Path(args.build_dir) if args.build_dir else REPO_ROOT / "build"
    return demo(env=env, store=store, build_dir=build_dir, synth=not args.skip_synth)


def register(subparsers: common.Subparsers[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "demo", help="build layer and function package into .local-store/, then synthesize"
    )
    common.add_env(parser, default="staging")
    parser.add_argument("--skip-synth", action="store_true", help="build only, no cdktf synth")
    parser.add_argument(
        "--local-store", help=f"store root (default: {LOCAL_STORE_DIR}/ in the repository)"
    )
    parser.add_argument("--build-dir", help="local output directory (default: build/)")
    parser.set_defaults(handler=run)
    return parser
