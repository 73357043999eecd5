"""`rollback`: put every function back on an earlier release, validated first."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from scripts import args as common
from scripts import progress
from scripts.release.rollback import RollbackRequest, rollback


def run(args: argparse.Namespace) -> Mapping[str, Any]:
    request = RollbackRequest(
        previous=args.previous, layer_version=args.layer_version, package_key=args.package_key
    )
    env = common.environment(args)
    store = common.store(args, env, s3_only=True)
    progress.say(f"rollback {env.name}")
    return rollback(env=env, lambda_client=common.lambda_for(env), store=store, request=request)


def register(subparsers: common.Subparsers[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "rollback",
        help="re-attach an earlier layer version and/or package (validated first)",
    )
    common.add_env(parser)
    common.add_store(parser, s3_only=True)
    parser.add_argument(
        "--previous", action="store_true", help="undo the latest recorded deployment"
    )
    parser.add_argument(
        "--layer-version", metavar="N|ARN", help="a version number or ARN of this env's layer"
    )
    parser.add_argument(
        "--package-key", metavar="KEY", help="a content-addressed lambda/backend-HASH.zip"
    )
    parser.set_defaults(handler=run)
    return parser
