"""`unlock`: remove an environment's deploy lock when its holder is gone; with `--force`,
ask a live holder to stop (it puts back what it changed, then releases the lock)."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from scripts import args as common
from scripts import progress
from scripts.release.timing import Timing
from scripts.release.unlock import unlock


def run(args: argparse.Namespace) -> Mapping[str, Any]:
    env = common.environment(args)
    store = common.store(args, env)
    timing: Timing = getattr(args, "timing", None) or Timing()
    done = unlock(store, env.name, timing=timing, force=args.force, say=progress.say)
    if done.revoked is not None:
        holder = ", ".join(f"{k}={v}" for k, v in sorted(done.revoked.items()) if k != "token")
        progress.say(
            f"{env.name}: asked the lock's live holder to stop ({holder}); it puts back what "
            "it changed and releases the lock: `deploy --wait SECONDS` goes next"
        )
    elif done.removed is None:
        progress.say(f"{env.name}: no deploy lock to remove")
    else:
        holder = ", ".join(f"{k}={v}" for k, v in sorted(done.removed.items()) if k != "token")
        progress.say(f"{env.name}: removed the deploy lock held by: {holder}")
    return {"env": env.name, **done.to_json()}


def register(subparsers: common.Subparsers[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "unlock",
        help="remove the deploy lock of an environment whose holder is gone (refuses a live "
        "one unless --force)",
    )
    common.add_env(parser)
    common.add_store(parser)
    parser.add_argument(
        "--force",
        action="store_true",
        help="the holder is alive (it renews the lock): ask it to stop; it puts back what it "
        "changed and releases the lock",
    )
    parser.set_defaults(handler=run)
    return parser
