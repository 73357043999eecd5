"""`prune-layers`: delete old deps layer versions nobody can still need."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from contextlib import nullcontext
from typing import Any

from environments import ENVIRONMENTS
from scripts import args as common
from scripts import progress, release_args
from scripts.release.prune import DEFAULT_HISTORY, prune_layers
from scripts.release.release import session


def run(args: argparse.Namespace) -> Mapping[str, Any]:
    ctx = release_args.release_context(args)
    progress.say(f"prune-layers {ctx.env.name}: {'apply' if args.apply else 'dry run'}")
    # Deleting holds the deploy lock: a running deploy may be attaching a layer version
    # no function or record names yet (busy: exit 3, or queue with --wait).
    with session(ctx, command="prune-layers", wait_s=args.wait) if args.apply else nullcontext():
        return prune_layers(
            env=ctx.env,
            lambda_client=ctx.api.client,
            store=ctx.store,
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
    release_args.add_wait(parser)
    parser.add_argument(
        "--history",
        type=int,
        default=DEFAULT_HISTORY,
        help=f"deployment records whose layers are kept (default {DEFAULT_HISTORY})",
    )
    parser.set_defaults(handler=run)
    return parser
