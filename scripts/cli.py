"""The thin command line: parse, call a pure step, map typed errors to an exit code.

Human progress goes to stderr; with `--json` exactly one JSON object goes to stdout, so
CI can pipe it. Exit codes: 0 success, 2 bad input, 1 any other failure.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from scripts import (
    build_backend,
    build_layer,
    demo,
    deploy,
    pipeline,
    prune,
    rollback,
    synth_diff,
)
from scripts.errors import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK, ToolError

# A command turns parsed arguments into its JSON-able result.
Handler = Callable[[argparse.Namespace], Mapping[str, Any]]


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m scripts", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in _REGISTRY:
        sub = register(commands)
        _add_common(sub)
    return parser


Register = Callable[
    ["argparse._SubParsersAction[argparse.ArgumentParser]"], argparse.ArgumentParser
]
# Each command module contributes `register(subparsers) -> parser` and sets
# `parser.set_defaults(handler=...)`. Listed here so `--help` shows them in order.
_REGISTRY: list[Register] = [
    build_layer.register,
    build_backend.register,
    demo.register,
    pipeline.register,
    deploy.register,
    rollback.register,
    prune.register,
    synth_diff.register,
]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        # argparse exits 2 on bad usage already; keep its code.
        return int(exit_.code or 0)
    handler: Handler = args.handler
    try:
        result = handler(args)
    except ToolError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except ValueError as err:
        # Configuration validation (environments.py) names the field and allowed values.
        print(f"error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (ClientError, BotoCoreError) as err:
        print(f"error: AWS call failed: {err}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps(result, sort_keys=True))
    return EXIT_OK
