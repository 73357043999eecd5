"""The thin command line: parse, call a pure step, map typed errors to an exit code.

Human progress goes to stderr; with `--json` exactly one JSON object goes to stdout, so
CI can pipe it. Exit codes: 0 success, 2 bad input, 1 any other failure.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from scripts.clients import raised_aws_errors
from scripts.errors import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK, ToolError

# A command turns parsed arguments into its JSON-able result.
Handler = Callable[[argparse.Namespace], Mapping[str, Any]]


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")


Register = Callable[
    ["argparse._SubParsersAction[argparse.ArgumentParser]"], argparse.ArgumentParser
]
# Command name -> the module whose `register(subparsers) -> parser` adds it and sets
# `parser.set_defaults(handler=...)`. Listed here so `--help` shows them in order.
COMMANDS: Mapping[str, str] = {
    "build-layer": "scripts.commands.build_layer",
    "build-backend": "scripts.commands.build_backend",
    "demo": "scripts.commands.demo",
    "pipeline": "scripts.commands.pipeline",
    "deploy": "scripts.commands.deploy",
    "rollback": "scripts.commands.rollback",
    "prune-layers": "scripts.commands.prune_layers",
    "synth-diff": "scripts.commands.synth_diff",
    "plan-check": "scripts.commands.plan_check",
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """Every command, or just `only`: a short run (a cache hit) should not pay for
    importing the deploy, pipeline and Lambda modules it never calls."""
    parser = argparse.ArgumentParser(prog="python -m scripts", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module in COMMANDS.items():
        if only is not None and name != only:
            continue
        register: Register = importlib.import_module(module).register
        _add_common(register(commands))
    return parser


def command_in(argv: Sequence[str]) -> str | None:
    """The command `argv` names, if it is one of ours (else every command is registered,
    so --help and argparse's errors list them all)."""
    for token in argv:
        if not token.startswith("-"):
            return token if token in COMMANDS else None
    return None


def main(argv: Sequence[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(command_in(arguments))
    try:
        args = parser.parse_args(arguments)
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
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except raised_aws_errors() as err:
        # Resolved only when something escaped: botocore stays unimported on local runs.
        print(f"error: AWS call failed: {err}", file=sys.stderr)
        return EXIT_FAILURE
    if args.json:
        print(json.dumps(result, sort_keys=True))
    return EXIT_OK
