"""`prune-layers`: delete old deps layer versions nobody can still need."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from environments import ENVIRONMENTS
from scripts import args as common
from scripts import progress
from scripts.release.prune import DEFAULT_HISTORY, prune_layers


def run(args: argparse.Namespace) -> Mapping[str, Any]:
    env = common.environment(args)
    store = common.store(args, env, s3_only=True)
    progress.say(f"prune-layers {env.name}: {'apply' if args.apply else 'dry run'}")
    return prune_layers(
        env=env,
        lambda_client=common.lambda_for(env),
        store=store,
        keep=args.keep,
        apply=args.apply,
        environments=ENVIRONMENTS.values(),
        history=args.history,
    )


def register(subparsers: common.Subparsers[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "prune-layers", help="delete old, unused deps layer versions (dry run unless --apply)"
    )
    common.add_env(parser)
    common.add_store(parser, s3_only=True)
    parser.add_argument("--keep", type=int, required=True, help="always keep the newest N")
    parser.add_argument("--apply", action="store_true", help="delete (default: dry run)")
    parser.add_argument(
        "--history",
        type=int,
        default=DEFAULT_HISTORY,
        help=f"deployment records whose layers are kept (default {DEFAULT_HISTORY})",
    )
    parser.set_defaults(handler=run)
    return parser
