"""What the release commands (deploy, rollback, status, prune, unlock, ...) share beyond
`scripts.args`: the `--wait` flag and the context a release runs in.

Kept apart from `scripts.args` so the build commands never import the Lambda engine (and
botocore with it): a local cache hit stays an import-light process.
"""

from __future__ import annotations

import argparse
import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from environments import Environment
from scripts import args as common
from scripts import preflight, progress
from scripts.clients import (
    cloudwatch_client,
    invoke_client,
    lambda_client,
    logs_client,
    sts_client,
)
from scripts.errors import BadInputError, BusyError
from scripts.release import lock
from scripts.release.canary import alarm_reader
from scripts.release.context import Context
from scripts.release.lambda_api import Api
from scripts.release.timing import Timing
from scripts.stop import Stop
from scripts.store import Store

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient


def lambda_client_for(env: Environment, timing: Timing | None = None) -> LambdaClient:
    timing = timing or Timing()
    return lambda_client(
        env, read_timeout=timing.read_timeout_s, connect_timeout=timing.connect_timeout_s
    )


def add_wait(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="when another deploy or rollback holds the lock, wait up to this long "
        "(default: exit 3 at once)",
    )


def add_dry_run(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print what would move (per function: alias, code, layer, callers, calls) "
        "and change nothing: no lock, no write",
    )


def _alarms(env: Environment) -> Callable[[Sequence[str]], Mapping[str, str]]:
    """Reads alarm states; the CloudWatch client is made on the first read only."""

    def read(names: Sequence[str]) -> Mapping[str, str]:
        return alarm_reader(cloudwatch_client(env))(names)

    return read


def summary(command: str, result: Mapping[str, Any]) -> str:
    """The closing line of a deploy or rollback: which release, and what each function did."""
    functions = result.get("functions", {})
    counts = Counter(str(f.get("status")) for f in functions.values())
    tally = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    if result.get("release") is None:
        return f"{command} {result.get('env')}: nothing to change ({tally}); no release recorded"
    return (
        f"{command} {result.get('env')}: release {result['release']} {result.get('state')} "
        f"({len(functions)} functions: {tally})"
    )


def preflight_release(ctx: Context, *, wait_s: float | None) -> None:
    """Before a release: the account, the store, and (unless `wait_s` is None: a dry run
    takes no lock) the lock."""
    preflight.check(ctx.env, ctx.store, sts=lambda: sts_client(ctx.env))
    if wait_s is not None:
        check_lock_free(ctx.store, ctx.env.name, timing=ctx.timing, wait_s=wait_s)


def check_lock_free(store: Store, env_name: str, *, timing: Timing, wait_s: float) -> None:
    """Busy (exit 3) now rather than after the checks, when a live run holds the lock and
    the command will not wait for it. A lock `acquire` would take over passes."""
    if wait_s > 0:
        return
    seen = lock.look(store, env_name)
    if seen is None or seen.takeable(timing.lock_lease_s):
        return
    # The words lock.acquire says when it finds the same holder.
    raise BusyError(
        f"{env_name} is busy: {seen.describe(timing.lock_lease_s)}; wait with --wait SECONDS, "
        f"or see who holds it and whether it is alive: python -m scripts unlock --env {env_name}"
    )


def release_context(args: argparse.Namespace, *, s3_only: bool = True) -> Context:
    """Environment, store, Lambda, timing and the stop signal a release command works with.

    `args.timing` and `args.stop` come from the CLI entry (the process environment and the
    signal handlers); tests calling a command directly get the defaults.
    """
    wait = getattr(args, "wait", 0.0)
    if not math.isfinite(wait) or wait < 0:
        raise BadInputError(f"--wait {wait:g}: use a finite number of seconds >= 0, e.g. 600")
    env = common.environment(args)
    timing: Timing = getattr(args, "timing", None) or Timing()
    stop: Stop = getattr(args, "stop", None) or Stop()
    return Context(
        env=env,
        api=Api(lambda_client_for(env, timing), timing),
        store=common.store(args, env, s3_only=s3_only),
        timing=timing,
        say=progress.say,
        stop=stop,
        alarms=_alarms(env),
        # On a terminal the canary's countdown and alarm states rewrite one line.
        live=progress.live if progress.is_terminal() else None,
        # A hook may run as long as its function may (a migration): wait that long, plus.
        logs=lambda: logs_client(env),
        invoker=invoke_client(
            env, read_timeout=max(f.timeout_s for f in env.functions) + timing.read_timeout_s
        ),
    )
