"""`rollback`: move the aliases back to an earlier release (validated first)."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from scripts import args as common
from scripts import progress, release_args
from scripts.release.rollback import RollbackRequest, rollback


def run(args: argparse.Namespace) -> Mapping[str, Any]:
    request = RollbackRequest(
        previous=args.previous,
        to=args.to,
        layer_version=args.layer_version,
        package_key=args.package_key,
    )
    ctx = release_args.release_context(args)
    ctx.dry_run = args.dry_run
    release_args.preflight_release(ctx, wait_s=None if args.dry_run else args.wait)
    progress.say(f"rollback {ctx.env.name}")
    result = rollback(ctx, request, wait_s=args.wait)
    if not args.dry_run:
        progress.say(release_args.summary("rollback", result))
    return result


def register(subparsers: common.Subparsers[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "rollback",
        help="move the aliases back to an earlier release (no upload, no publish)",
    )
    common.add_env(parser)
    common.add_store(parser, s3_only=True)
    release_args.add_wait(parser)
    release_args.add_dry_run(parser)
    parser.add_argument(
        "--previous",
        action="store_true",
        help="the release before the one serving now (again: one further back)",
    )
    parser.add_argument("--to", metavar="RELEASE_ID", help="a release from `history`")
    parser.add_argument(
        "--layer-version",
        metavar="N|ARN",
        help="a new release with this version of the env's layer (and --package-key)",
    )
    parser.add_argument(
        "--package-key",
        metavar="KEY",
        help="a new release with this content-addressed lambda/backend-HASH.zip",
    )
    parser.set_defaults(handler=run, graceful_stop=True)
    return parser
