"""`history`: the environment's releases, newest first."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from scripts import args as common
from scripts import progress
from scripts.release.status import history_report


def run(args: argparse.Namespace) -> Mapping[str, Any]:
    env = common.environment(args)
    return history_report(common.store(args, env), env, limit=args.limit, say=progress.say)


def register(subparsers: common.Subparsers[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("history", help="the environment's releases, newest first")
    common.add_env(parser)
    common.add_store(parser)
    parser.add_argument(
        "--limit", type=int, default=20, metavar="N", help="show the newest N (default 20)"
    )
    parser.set_defaults(handler=run)
    return parser
