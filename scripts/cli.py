"""The thin command line: parse, call a pure step, map typed errors to an exit code.

Human progress goes to stderr; with `--json` exactly one JSON object goes to stdout, so
CI can pipe it, on failure too. Exit codes: 0 success, 1 failure, 2 bad input, 3 busy.
This module and `main.py` are the only places that read the process environment.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import tomllib
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from typing import Any

from environments import REPO_ROOT, ConfigFileError
from scripts import helptext, progress
from scripts.build.cache_key import FORMAT_VERSION
from scripts.clients import explain_aws_error, raised_aws_errors
from scripts.errors import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK, ToolError
from scripts.release.timing import timing_from
from scripts.stop import Stop, graceful

# A command turns parsed arguments into its JSON-able result.
Handler = Callable[[argparse.Namespace], Mapping[str, Any]]


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    loudness = parser.add_mutually_exclusive_group()
    loudness.add_argument(
        "-q", "--quiet", action="store_true", help="only warnings and errors on stderr"
    )
    loudness.add_argument("-v", "--verbose", action="store_true", help="more detail on stderr")


def version_text() -> str:
    """The project's version (pyproject.toml) and the layer builder's format version."""
    try:
        project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
        version = str(project["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        version = "unknown"
    return f"bluemoxon-lambda-layers {version} (layer build format {FORMAT_VERSION})"


Register = Callable[
    ["argparse._SubParsersAction[argparse.ArgumentParser]"], argparse.ArgumentParser
]
# Command name -> the module whose `register(subparsers) -> parser` adds it and sets
# `parser.set_defaults(handler=...)`. Listed here so `--help` shows them in order.
COMMANDS: Mapping[str, str] = {
    "build-layer": "scripts.commands.build_layer",
    "build-backend": "scripts.commands.build_backend",
    "demo": "scripts.commands.demo",
    "invoke": "scripts.commands.invoke",
    "pipeline": "scripts.commands.pipeline",
    "local": "scripts.commands.local",
    "deploy": "scripts.commands.deploy",
    "rollback": "scripts.commands.rollback",
    "status": "scripts.commands.status",
    "history": "scripts.commands.history",
    "logs": "scripts.commands.logs",
    "unlock": "scripts.commands.unlock",
    "prune-layers": "scripts.commands.prune_layers",
    "prune-versions": "scripts.commands.prune_versions",
    "migrate": "scripts.commands.migrate",
    "discover": "scripts.commands.discover",
    "synth-diff": "scripts.commands.synth_diff",
    "plan-check": "scripts.commands.plan_check",
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """Every command, or just `only`: a short run (a cache hit) should not pay for
    importing the deploy, pipeline and Lambda modules it never calls."""
    parser = argparse.ArgumentParser(
        prog="python -m scripts",
        description=helptext.TOOL,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=version_text())
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module in COMMANDS.items():
        if only is not None and name != only:
            continue
        register: Register = importlib.import_module(module).register
        command = register(commands)
        description, epilog = helptext.describe(name)
        if description is not None:
            command.description = description
            command.epilog = epilog
            command.formatter_class = argparse.RawDescriptionHelpFormatter
        _add_common(command)
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
    progress.configure(level=progress.environ_level(args.quiet, args.verbose), environ=os.environ)
    try:
        args.timing = timing_from(os.environ)
        args.stop = Stop()
        with graceful(args.stop) if getattr(args, "graceful_stop", False) else nullcontext():
            result = handler(args)
    except ToolError as err:
        return _failed(args, str(err), err.exit_code, getattr(err, "result", None))
    except ConfigFileError as err:
        # An environment file: one line naming the file, the key and the fix.
        return _failed(args, str(err), EXIT_BAD_INPUT)
    except ValueError as err:
        # Configuration validation (environments) names the field and allowed values.
        return _failed(args, str(err), EXIT_BAD_INPUT)
    except KeyboardInterrupt:
        return _failed(args, "interrupted", 130)
    except OSError as err:
        # A file or directory the steps did not anticipate: name it instead of a traceback.
        where = f"{err.filename}: " if err.filename else ""
        return _failed(
            args, f"{where}{err.strerror or err}: check the path and retry", EXIT_FAILURE
        )
    except raised_aws_errors() as err:
        # Resolved only when something escaped: botocore stays unimported on local runs.
        message, code = explain_aws_error(err, os.environ)
        return _failed(args, message, code)
    if args.json:
        print(json.dumps(result, sort_keys=True))
    return EXIT_OK


def _failed(
    args: argparse.Namespace,
    message: str,
    code: int,
    result: Callable[[], Mapping[str, Any]] | None = None,
) -> int:
    """One error line on stderr; with --json also one object (what each function was left
    at, when the failure knows) on stdout."""
    progress.error(f"error: {message}")
    if getattr(args, "json", False):
        payload: dict[str, Any] = (
            dict(result()) if result is not None else {"error": message.splitlines()[0]}
        )
        payload.setdefault("exit_code", code)
        print(json.dumps(payload, sort_keys=True))
    return code
