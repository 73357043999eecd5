"""`discover`: write the environment file that adopts a running estate with no change."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from environments import ENVIRONMENTS
from scripts import args as common
from scripts import progress
from scripts.clients import configured_endpoint, discovery_clients
from scripts.discover.write import discover, lines


def run(args: argparse.Namespace) -> Mapping[str, Any]:
    clients = discovery_clients(args.region)
    region = str(clients["lambda"].meta.region_name)
    out = Path(args.out) if args.out else ENVIRONMENTS.path(args.env)
    progress.say(f"discover {args.prefix}* in {region} -> {out}")
    result = discover(
        clients,
        env_name=args.env,
        prefix=args.prefix,
        region=region,
        out=out,
        state=args.state or "s3",
        endpoint=configured_endpoint(),
        alias=args.alias,
    )
    for line in lines(result):
        progress.say(line)
    return result


def register(subparsers: common.Subparsers[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "discover", help="read a running estate from AWS and write the environment that adopts it"
    )
    # A new environment's name: not one of the files yet.
    parser.add_argument("--env", required=True, metavar="NAME", help="the environment's name")
    parser.add_argument(
        "--prefix", required=True, metavar="PREFIX", help="every function whose name starts so"
    )
    parser.add_argument(
        "--state",
        choices=("local",),
        help="local: keep the Terraform state in a local file (a rehearsal); "
        "default: an S3 backend whose bucket the file leaves to fill in",
    )
    parser.add_argument(
        "--out",
        metavar="FILE",
        help="default: environments/NAME.toml (LAYERS_ENVIRONMENTS_DIR/NAME.toml when set)",
    )
    parser.add_argument("--alias", metavar="NAME", help="the alias releases move (default: found)")
    parser.add_argument("--region", metavar="REGION", help="default: AWS_DEFAULT_REGION")
    parser.set_defaults(handler=run)
    return parser
