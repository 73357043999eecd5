"""The thin command line: parse, call a pure step, map typed errors to an exit code.

Installed as `layers` (pyproject.toml's [project.scripts]); `python -m scripts` is the same.
Human progress goes to stderr; with `--json` exactly one JSON object goes to stdout, so
CI can pipe it, on failure too, argument errors included. Exit codes: 0 success, 1
failure, 2 bad input, 3 busy. No option may be abbreviated: `--a` must never run as
`--apply`. The process environment is read in `scripts.settings` only (and by `main.py`
on the infrastructure side).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import tomllib
import traceback
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any, NoReturn, cast

from environments import ENVIRONMENTS, REPO_ROOT, ConfigError
from scripts import completion, helptext, progress, settings
from scripts.builder.cache_key import FORMAT_VERSION
from scripts.clients import explain_aws_error, raised_aws_errors
from scripts.errors import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK, ToolError
from scripts.release.timing import timing_from
from scripts.stop import Stop, graceful
from scripts.suggest import did_you_mean

# A command turns parsed arguments into its JSON-able result.
Handler = Callable[[argparse.Namespace], Mapping[str, Any]]


class UsageError(Exception):
    """An argument error, raised instead of argparse's print-and-exit so `main` can answer
    it like any other bad input (one line, exit 2, and one JSON object under --json)."""

    def __init__(self, message: str, usage: str) -> None:
        super().__init__(message)
        self.usage = usage


class Parser(argparse.ArgumentParser):
    """Every parser of the tool, subcommands included (add_subparsers uses this class)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise UsageError(message, self.format_usage())


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
    parser = Parser(
        prog=prog_name(),
        description=helptext.TOOL,
        epilog=settings.help_text(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=version_text())
    # Typed as the commands' `register` takes it; the parsers it makes are `Parser`s.
    commands = cast(
        "argparse._SubParsersAction[argparse.ArgumentParser]",
        parser.add_subparsers(dest="command", required=True, metavar="COMMAND"),
    )
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
    if only in {None, "completion"}:
        _add_completion(commands, parser)
    return parser


def prog_name() -> str:
    """`layers` when run as the installed command, else how `python -m` runs it."""
    return "layers" if Path(sys.argv[0]).name == "layers" else "python -m scripts"


def _add_completion(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], root: argparse.ArgumentParser
) -> None:
    parser = commands.add_parser("completion", help="print a shell completion script")
    parser.add_argument("shell", choices=completion.SHELLS)
    parser.description = (
        'Print a completion script for bash or zsh: eval "$(layers completion bash)" in '
        "~/.bashrc (zsh: after compinit, in ~/.zshrc)."
    )

    def run(args: argparse.Namespace) -> Mapping[str, Any]:
        print(completion.script(args.shell, root, ENVIRONMENTS, prog="layers"), end="")
        return {}

    parser.set_defaults(handler=run)
    _add_common(parser)


def command_in(argv: Sequence[str]) -> str | None:
    """The command `argv` names, if it is one of ours (else every command is registered,
    so --help and argparse's errors list them all)."""
    for token in argv:
        if not token.startswith("-"):
            return token if token in COMMANDS else None
    return None


def unknown_command(argv: Sequence[str]) -> str | None:
    """The first word when it names no command: argparse's own message lists all fifteen
    and suggests nothing."""
    for token in argv:
        if not token.startswith("-"):
            known = [*COMMANDS, "completion"]
            return None if token in known else token
    return None


def main(argv: Sequence[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else list(argv)
    wants_json = "--json" in arguments
    try:
        folder = settings.LAYERS_ENVIRONMENTS_DIR.read()
        if folder is not None:
            # Before parsing: `--env` lists and checks the names of this folder's files.
            ENVIRONMENTS.use(folder)
    except ConfigError as err:
        return _bad_usage(f"{settings.LAYERS_ENVIRONMENTS_DIR.name}: {err}", "", wants_json)
    unknown = unknown_command(arguments)
    if unknown is not None:
        message = f"unknown command {unknown!r}{did_you_mean(unknown, COMMANDS)}"
        return _bad_usage(message, f"run `{prog_name()} --help` for the commands", wants_json)
    parser = build_parser(command_in(arguments))
    try:
        args = parser.parse_args(arguments)
    except UsageError as err:
        return _bad_usage(str(err), err.usage.strip(), wants_json)
    except SystemExit as exit_:
        return int(exit_.code or 0)  # --help, --version
    handler: Handler = args.handler
    progress.configure(level=progress.environ_level(args.quiet, args.verbose))
    try:
        args.timing = timing_from()
        args.stop = Stop()
        with graceful(args.stop) if getattr(args, "graceful_stop", False) else nullcontext():
            result = handler(args)
    except ToolError as err:
        return _failed(args, str(err), err.exit_code, getattr(err, "result", None))
    except ConfigError as err:
        # The configuration (environments/) names the field and the values it allows.
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
        message, code = explain_aws_error(err)
        return _failed(args, message, code)
    except Exception as err:
        # A bug of ours, never the user's input: say so (no "bad input", exit 1), with the
        # traceback under --verbose for the report.
        progress.detail(traceback.format_exc().rstrip())
        return _failed(
            args,
            f"internal error {type(err).__name__}: {err} (a bug in the tool, not your input; "
            "rerun with --verbose for the traceback and report it)",
            EXIT_FAILURE,
        )
    if args.json:
        print(json.dumps(result, sort_keys=True))
    return EXIT_OK


def _bad_usage(message: str, usage: str, wants_json: bool) -> int:
    """An argument error: usage and one line on stderr, one JSON object under --json."""
    progress.error(f"{usage}\nerror: {message}" if usage else f"error: {message}")
    if wants_json:
        print(json.dumps({"error": message, "exit_code": EXIT_BAD_INPUT}, sort_keys=True))
    return EXIT_BAD_INPUT


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
