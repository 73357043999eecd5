"""`prune-versions`: delete old published function versions (dry run unless --apply)."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from contextlib import nullcontext
from typing import Any

from scripts import args as common
from scripts import progress, release_args
from scripts.release.prune_versions import prune_versions
from scripts.release.release import session


def run(args: argparse.Namespace) -> Mapping[str, Any]:
    ctx = release_args.release_context(args)
    progress.say(f"prune-versions {ctx.env.name}: {'apply' if args.apply else 'dry run'}")
    # Deleting holds the deploy lock: a running deploy or rollback may be moving an alias
    # to a version no record names yet (busy: exit 3, or queue with --wait).
    with session(ctx, command="prune-versions", wait_s=args.wait) if args.apply else nullcontext():
        return prune_versions(
            env=ctx.env,
            api=ctx.api,
            store=ctx.store,
            keep=args.keep,
            apply=args.apply,
            say=ctx.say,
        )


def register(subparsers: common.Subparsers[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "prune-versions",
        help="delete function versions no alias and none of the last N releases use",
    )
    common.add_env(parser)
    common.add_store(parser, s3_only=True)
    parser.add_argument(
        "--keep", type=int, required=True, metavar="N", help="keep the last N releases' versions"
    )
    parser.add_argument("--apply", action="store_true", help="delete (default: dry run)")
    release_args.add_wait(parser)
    parser.set_defaults(handler=run)
    return parser
