"""`unlock`: remove an environment's deploy lock by hand, saying what was removed."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from scripts import args as common
from scripts import progress
from scripts.release.lock import unlock


def run(args: argparse.Namespace) -> Mapping[str, Any]:
    env = common.environment(args)
    store = common.store(args, env)
    removed = unlock(store, env.name)
    if removed is None:
        progress.say(f"{env.name}: no deploy lock to remove")
    else:
        holder = ", ".join(f"{k}={v}" for k, v in sorted(removed.items()) if k != "token")
        progress.say(f"{env.name}: removed the deploy lock held by: {holder}")
    return {"env": env.name, "removed": removed}


def register(subparsers: common.Subparsers[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "unlock",
        help="remove the deploy lock of an environment (when you know its holder is gone)",
    )
    common.add_env(parser)
    common.add_store(parser)
    parser.set_defaults(handler=run)
    return parser
