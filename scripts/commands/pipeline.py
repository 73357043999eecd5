"""`pipeline`: the whole flow on this machine against moto, no AWS account needed."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scripts import args as common
from scripts import settings
from scripts.local import aws as local_aws
from scripts.local import sandbox
from scripts.local.pipeline import ENV_NAME, PipelineRequest, StateDir, pipeline


def run(args: argparse.Namespace) -> Mapping[str, Any]:
    env = common.environment(args, ENV_NAME)
    tools = local_aws.find_tools(settings.TF_PLUGIN_MIRROR.read())
    request = PipelineRequest(
        env=env,
        tools=tools,
        state=StateDir(root=Path(args.state_dir).resolve()),
        port=args.port if args.port is not None else sandbox.default_port(env.endpoint_url),
        fresh=args.fresh,
        index_args=common.index_args(args),
    )
    return pipeline(request)


def register(subparsers: common.Subparsers[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "pipeline",
        help="the whole pipeline on this machine: the local sandbox (moto, builds, "
        "cdktf deploy local), then a deploy; the sandbox stays up",
    )
    common.add_sandbox_options(parser)
    parser.add_argument("--fresh", action="store_true", help="stop the sandbox, delete its state")
    common.add_index(parser)
    common.add_backend_dir(parser)
    parser.set_defaults(handler=run)
    return parser
