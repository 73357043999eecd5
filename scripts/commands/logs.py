"""`logs`: the functions' CloudWatch Logs, one version (or a release's versions), by time."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from typing import Any

import artifacts
from scripts import args as common
from scripts import progress
from scripts.clients import logs_client
from scripts.errors import BadInputError
from scripts.release import history
from scripts.release.logs import Follower, parse_since, read, sources_for, wall_ms
from scripts.stop import Stop

FOLLOW_POLL_S = 2.0


def _release(args: argparse.Namespace, env: Any) -> history.ReleaseRecord:
    store = common.store(args, env)
    name = artifacts.release_record(env.name, args.release)
    try:
        data = json.loads(store.read_bytes(name))
        return history.from_json(data)
    except (ValueError, history.RecordShapeError) as err:
        raise BadInputError(f"--release {args.release}: {store.location}{name}: {err}") from err


def run(args: argparse.Namespace) -> Mapping[str, Any]:
    env = common.environment(args)
    record = _release(args, env) if args.release else None
    sources = sources_for(env, args.functions, version=args.version, release=record)
    client = logs_client(env)
    start_ms = wall_ms() - int(parse_since(args.since) * 1000)
    lines = read(client, sources, start_ms, wall_ms())
    if not args.json:
        for line in lines:
            print(line.text(), flush=True)
    if args.follow:
        stop: Stop = getattr(args, "stop", None) or Stop()
        follower = Follower(client, sources, start_ms)
        follower.poll(wall_ms())  # what was printed above: seen
        progress.say("following; Ctrl-C ends")
        while not stop.wait(FOLLOW_POLL_S):
            for line in follower.poll(wall_ms()):
                print(json.dumps(line.to_json()) if args.json else line.text(), flush=True)
    described = {s.function: {"group": s.group, "version": s.version} for s in sources}
    return {"env": env.name, "sources": described, "lines": [x.to_json() for x in lines]}


def register(subparsers: common.Subparsers[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "logs", help="the functions' CloudWatch Logs, filtered to one version, merged by time"
    )
    common.add_env(parser)
    parser.add_argument(
        "functions", nargs="*", metavar="FUNCTION", help="function names (default: all)"
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--version", metavar="N", help="only this published version's streams")
    which.add_argument("--release", metavar="ID", help="the versions this release made")
    common.add_store(parser)
    parser.add_argument(
        "--since", default="10m", metavar="AGE", help="how far back: 30s, 10m, 2h, 1d (10m)"
    )
    parser.add_argument("--follow", action="store_true", help="keep printing new lines")
    parser.set_defaults(handler=run, graceful_stop=True)
    return parser
