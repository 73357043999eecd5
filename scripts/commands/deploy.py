"""`deploy`: a new release of every function (layer + package), prepared, then switched."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from scripts import args as common
from scripts import progress, release_args
from scripts.release.canary import DEFAULT_BAKE_S
from scripts.release.canary import from_args as canary_from_args
from scripts.release.deploy import current_hashes, deploy, target_from_store
from scripts.release.sources import Sources


def run(args: argparse.Namespace) -> Mapping[str, Any]:
    # Checked before anything is read or locked: bad numbers exit 2 naming the fix.
    env = common.environment(args)
    alarms = tuple(a for f in env.functions for a in f.alarm_names)
    canary = canary_from_args(args.canary, args.bake, alarms)
    ctx = release_args.release_context(args)
    ctx.dry_run = args.dry_run
    release_args.preflight_release(ctx, wait_s=None if args.dry_run else args.wait)
    progress.say(f"deploy {ctx.env.name} from {ctx.store.location}")
    # CI deploys exactly what its build jobs reported; otherwise recompute from the files.
    layer_hash, package_hash = args.layer_hash, args.package_hash
    if not (layer_hash and package_hash):
        computed = current_hashes(ctx.env)
        layer_hash, package_hash = layer_hash or computed[0], package_hash or computed[1]
    target = target_from_store(
        Sources(ctx.store), ctx.env, layer_hash=layer_hash, package_hash=package_hash
    )
    result = deploy(ctx, target, canary=canary, wait_s=args.wait, smoke=not args.no_smoke)
    if not args.dry_run:
        progress.say(release_args.summary("deploy", result))
    return result


def register(subparsers: common.Subparsers[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "deploy",
        help="release the built layer and package: prepare versions, then move the aliases",
    )
    common.add_env(parser)
    common.add_store(parser, s3_only=True)
    # The same backend the build used: deploy recomputes its hashes to find the artifacts.
    common.add_backend_dir(parser)
    release_args.add_wait(parser)
    release_args.add_dry_run(parser)
    parser.add_argument(
        "--layer-hash",
        metavar="HASH",
        help="deploy layer-HASH.zip (as build-layer reported it; default: from the lock)",
    )
    parser.add_argument(
        "--package-hash",
        metavar="HASH",
        help="deploy backend-HASH.zip (as build-backend reported it; default: from the sources)",
    )
    parser.add_argument(
        "--canary",
        type=float,
        metavar="PERCENT",
        help="send PERCENT (0.01-99.99, steps of 0.01) of the traffic to the new versions "
        "first, watch the alarms, then promote",
    )
    parser.add_argument(
        "--bake",
        type=float,
        metavar="SECONDS",
        help="with --canary: how long the canary is watched before promotion "
        f"(default {DEFAULT_BAKE_S:g})",
    )
    parser.add_argument(
        "--no-smoke",
        action="store_true",
        help="skip the functions' smoke checks after the switch (recorded in the release)",
    )
    parser.set_defaults(handler=run, graceful_stop=True)
    return parser
