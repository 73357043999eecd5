"""`pipeline`: the whole flow on this machine against moto, no AWS account needed."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scripts import args as common
from scripts import settings
from scripts.local import aws as local_aws
from scripts.local.pipeline import DEFAULT_STATE_DIR, ENV_NAME, StateDir, pipeline


def run(args: argparse.Namespace) -> Mapping[str, Any]:
    env = common.environment(args, ENV_NAME)
    tools = local_aws.find_tools(settings.TF_PLUGIN_MIRROR.read())
    return pipeline(
        env=env,
        tools=tools,
        state=StateDir(root=Path(args.state_dir).resolve()),
        fresh=args.fresh,
        index_args=common.index_args(args),
    )


def register(subparsers: common.Subparsers[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "pipeline",
        help="the whole pipeline on this machine: moto, builds, cdktf deploy local, deploy",
    )
    parser.add_argument(
        "--state-dir",
        default=str(DEFAULT_STATE_DIR),
        help="moto recording, terraform state and logs (default: .pipeline/)",
    )
    parser.add_argument("--fresh", action="store_true", help="delete the state dir first")
    common.add_index(parser)
    common.add_backend_dir(parser)
    parser.set_defaults(handler=run)
    return parser
