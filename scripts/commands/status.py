"""`status`: per function, what its alias serves, which package and layer, and drift."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from scripts import args as common
from scripts import progress, release_args
from scripts.release.status import status


def run(args: argparse.Namespace) -> Mapping[str, Any]:
    ctx = release_args.release_context(args)
    return status(ctx.env, ctx.api, ctx.store, say=progress.say, timing=ctx.timing)


def register(subparsers: common.Subparsers[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "status", help="what each function serves now, the lock, the current release, drift"
    )
    common.add_env(parser)
    common.add_store(parser, s3_only=True)
    parser.set_defaults(handler=run)
    return parser
