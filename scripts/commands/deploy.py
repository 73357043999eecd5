"""`deploy`: publish or reuse the deps layer version and move every function onto it."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from scripts import args as common
from scripts import progress
from scripts.release.deploy import current_hashes, deploy, target_from_store


def run(args: argparse.Namespace) -> Mapping[str, Any]:
    env = common.environment(args)
    store = common.store(args, env, s3_only=True)
    progress.say(f"deploy {env.name} from {store.location}")
    layer_hash, package_hash = current_hashes(env)
    target = target_from_store(store, env, layer_hash=layer_hash, package_hash=package_hash)
    return deploy(env=env, lambda_client=common.lambda_for(env), store=store, target=target)


def register(subparsers: common.Subparsers[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "deploy",
        help="publish or reuse the deps layer and update every function (restores on failure)",
    )
    common.add_env(parser)
    common.add_store(parser, s3_only=True)
    # The same backend the build used: deploy recomputes its hashes to find the artifacts.
    common.add_backend_dir(parser)
    parser.set_defaults(handler=run)
    return parser
