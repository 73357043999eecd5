"""`local up|down|status`: a moto sandbox that stays up between commands."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scripts import args as common
from scripts import progress, settings
from scripts.local import sandbox


def _up(args: argparse.Namespace) -> Mapping[str, Any]:
    # The pipeline's steps without its release: imported here, not at module level, so
    # `local down` and `local status` never load boto3 and the builders.
    from scripts.local import aws as local_aws  # noqa: PLC0415
    from scripts.local.pipeline import PipelineRequest, StateDir, pipeline  # noqa: PLC0415

    env = common.environment(args)
    tools = local_aws.find_tools(settings.TF_PLUGIN_MIRROR.read())
    request = PipelineRequest(
        env=env,
        tools=tools,
        state=StateDir(root=Path(args.state_dir).resolve()),
        port=args.port if args.port is not None else sandbox.default_port(env.endpoint_url),
        fresh=args.fresh,
        index_args=common.index_args(args),
        release=False,
    )
    return pipeline(request)


def _down(args: argparse.Namespace) -> Mapping[str, Any]:
    stopped = sandbox.stop(Path(args.state_dir).resolve())
    if stopped is None:
        progress.say("no sandbox is running")
        return {"stopped": False}
    progress.say(f"stopped moto at {stopped.endpoint} (pid {stopped.pid}); state kept")
    return {"stopped": True, "pid": stopped.pid, "endpoint": stopped.endpoint}


def _status(args: argparse.Namespace) -> Mapping[str, Any]:
    current = sandbox.running(Path(args.state_dir).resolve())
    if current is None:
        progress.say("no sandbox is running: start one with `layers local up`")
        return {"running": False}
    progress.say(
        f"sandbox for {current.env} at {current.endpoint} (pid {current.pid}, "
        f"since {current.started_at}); log {current.log}"
    )
    return {"running": True, "endpoint": current.endpoint, "pid": current.pid, "env": current.env}


def _add_output(parser: argparse.ArgumentParser) -> None:
    # Also after the action (`local up --json`): the action's parser owns what follows it.
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    loudness = parser.add_mutually_exclusive_group()
    loudness.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    loudness.add_argument("-v", "--verbose", action="store_true", help="more detail on stderr")


def register(subparsers: common.Subparsers[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "local", help="a local sandbox (moto + the local stack) that stays up: up, down, status"
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    up = actions.add_parser(
        "up",
        help="start moto (or reuse it), create the bucket, build and upload the artifacts, "
        "apply the local stack; leave it running",
    )
    common.add_env(up, default="local")
    _add_output(up)
    common.add_sandbox_options(up)
    up.add_argument("--fresh", action="store_true", help="stop the sandbox, delete its state")
    common.add_index(up)
    common.add_backend_dir(up)
    up.set_defaults(handler=_up)
    for name, handler, text in (
        ("down", _down, "stop the sandbox's moto (its recorded state is kept)"),
        ("status", _status, "is the sandbox running, where"),
    ):
        action = actions.add_parser(name, help=text)
        common.add_sandbox_options(action)
        _add_output(action)
        action.set_defaults(handler=handler)
    return parser
