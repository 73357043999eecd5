"""`invoke`: run a function's handler locally with only its package and the layer."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from environments import REPO_ROOT
from scripts import args as common
from scripts.local.invoke import InvokeRequest, invoke, read_event
from scripts.store import LOCAL_STORE_DIR, LocalStore, local_env_store


def run(args: argparse.Namespace) -> Mapping[str, Any]:
    env = common.environment(args)
    store = LocalStore(Path(args.local_store)) if args.local_store else local_env_store(env)
    event = read_event(args.event, sys.stdin.read() if args.event == "-" else None)
    result = invoke(
        InvokeRequest(
            env=env,
            function=args.function,
            event=event,
            store=store,
            build_dir=Path(args.build_dir) if args.build_dir else REPO_ROOT / "build",
            architecture=args.arch,
            version=args.version,
            index_args=common.index_args(args),
            own_backend=not args.backend_dir,
        )
    )
    if not args.json:
        # The handler's answer is the command's output, like `sam local invoke`.
        print(json.dumps(result["result"], indent=2, sort_keys=True, default=str))
    return result


def register(subparsers: common.Subparsers[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "invoke",
        help="run FUNCTION's handler locally under the runtime's Python, with only the "
        "package and the layer on the path",
    )
    common.add_env(parser)
    parser.add_argument("function", metavar="FUNCTION", help="function name (api, cleanup, ...)")
    parser.add_argument(
        "--event",
        metavar="FILE",
        help="JSON event file, or - for stdin ({}); samples for the example backend: "
        "examples/events/FUNCTION.json",
    )
    parser.add_argument(
        "--local-store",
        help=f"where the layer is built or found (default: {LOCAL_STORE_DIR}/, as demo uses)",
    )
    parser.add_argument("--build-dir", help="where package and layer are extracted (build/)")
    parser.add_argument("--arch", choices=("x86_64", "arm64"), help="layer architecture")
    common.add_version(parser)
    common.add_index(parser)
    common.add_backend_dir(parser)
    parser.set_defaults(handler=run)
    return parser
