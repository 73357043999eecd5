"""`migrate`: the design's four migration phases, each checked, with the next command."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from environments import ENVIRONMENTS
from scripts import args as common
from scripts import progress, release_args, settings
from scripts.clients import iam_client, service_clients
from scripts.errors import BadInputError
from scripts.migration.bootstrap import BuildInputs
from scripts.migration.handover_run import handover
from scripts.migration.handover_run import lines as handover_lines
from scripts.migration.runbook import migrate


def run(args: argparse.Namespace) -> Mapping[str, Any]:
    if args.handover:
        return _handover(args)
    ctx = release_args.release_context(args)
    progress.say(f"migrate {ctx.env.name}: {'apply' if args.apply else 'check only'}")
    build_dir = Path(args.build_dir)
    return migrate(
        ctx,
        iam=iam_client(ctx.env),
        stack_dir=Path(args.stack_dir or f"cdktf.out/stacks/{ctx.env.name}"),
        inputs=BuildInputs(build_dir=build_dir, index_args=common.index_args(args)),
        # Terraform runs with this process's settings (credentials, TF_CLI_CONFIG_FILE).
        environ=getattr(args, "environ", None) or settings.child_environ(),
        apply=args.apply,
        allow=args.allow or (),
        aws=service_clients(ctx.env, ("apigateway", "apigatewayv2", "events")),
        env_file=Path(args.env_file) if args.env_file else ENVIRONMENTS.path(ctx.env.name),
    )


def _handover(args: argparse.Namespace) -> Mapping[str, Any]:
    env = common.environment(args)
    old_dir = Path(args.handover).resolve()
    if not old_dir.is_dir():
        raise BadInputError(f"--handover {args.handover}: not a directory; give the old root's")
    progress.say(f"migrate {env.name}: hand over from {old_dir}")
    result = handover(
        env,
        old_dir=old_dir,
        stack_dir=Path(args.stack_dir or f"cdktf.out/stacks/{env.name}"),
        environ=getattr(args, "environ", None) or settings.child_environ(),
        allow=args.allow or (),
    )
    for line in handover_lines(result):
        progress.say(line)
    return result


def register(subparsers: common.Subparsers[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "migrate", help="walk an existing system through the design's four phases, checked"
    )
    common.add_env(parser)
    common.add_store(parser, s3_only=True)
    parser.add_argument(
        "--stack-dir", metavar="DIR", help="the synthesized stack (default: cdktf.out/stacks/ENV)"
    )
    parser.add_argument(
        "--apply",
        action="store_true",
        help="do what is due: the first release (phase 2), retiring the old policy (phase 4)",
    )
    parser.add_argument(
        "--allow", action="append", metavar="RESOURCE.ATTR", help="passed to plan-check"
    )
    parser.add_argument(
        "--handover",
        metavar="DIR",
        help="the old Terraform root: write removed blocks there for what the stack adopts, "
        "and prove both plans (only this step runs)",
    )
    parser.add_argument(
        "--env-file",
        metavar="FILE",
        help="the environment file the callers phase rewrites with --apply "
        "(default: environments/ENV.toml, or LAYERS_ENVIRONMENTS_DIR/ENV.toml when set)",
    )
    parser.add_argument("--build-dir", default="build", help="local output directory")
    common.add_index(parser)
    common.add_backend_dir(parser)
    parser.set_defaults(handler=run, graceful_stop=True)
    return parser
