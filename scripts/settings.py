"""Every process environment variable the tool reads: its type, its default, what it does.

The only module of `scripts/` that reads a variable by name (tests/scripts/test_settings.py
checks it, and that docs/commands.md's table and `--help` are generated from `SETTINGS`). Other
modules copy the whole environment only to hand it to a child process (terraform, moto,
the runtime's Python), and name no variable themselves.

Adding a knob is one line here, e.g. `LAYERS_X = _seconds("LAYERS_X", 5.0, "what it does")`
(or `_text(...)`, or `_knob(Setting(...))` with a parser of its own), then `LAYERS_X.read()`
(or `.read(environ)`) where it is used; `python -m scripts.settings` prints the docs'
table. A value that does not parse is bad input: one line naming the variable and what it
takes, exit 2.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from scripts.errors import BadInputError

T = TypeVar("T")

SETTINGS: list[Setting[object]] = []


@dataclass(frozen=True, kw_only=True)
class Setting(Generic[T]):
    """One environment variable: unset or empty means `default`."""

    name: str
    default: T
    description: str
    parse: Callable[[str, str], T]
    type: str = "text"
    # What the docs show when the default is computed or absent.
    shown_default: str | None = None
    # Who reads it, when not this tool's commands (the CDKTF app, the test suite).
    read_by: str = "layers"

    def read(self, environ: Mapping[str, str] | None = None) -> T:
        text = (os.environ if environ is None else environ).get(self.name)
        if not text:
            return self.default
        return self.parse(self.name, text)

    def default_text(self) -> str:
        if self.shown_default is not None:
            return self.shown_default
        if isinstance(self.default, tuple):
            return ",".join(_number(v) for v in self.default)
        if isinstance(self.default, float):
            return _number(self.default)
        return "unset" if self.default is None else str(self.default)


def _number(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _knob(setting: Setting[T]) -> Setting[T]:
    SETTINGS.append(setting)  # type: ignore[arg-type]
    return setting


def seconds(name: str, text: str) -> float:
    """A finite number of seconds >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise BadInputError(f"{name}: got {text!r}; use a number of seconds") from None
    if not math.isfinite(value) or value < 0:
        raise BadInputError(f"{name}: got {text!r}; use a finite number of seconds >= 0")
    return value


def seconds_list(name: str, text: str) -> tuple[float, ...]:
    return tuple(seconds(name, part) for part in text.split(","))


def text(_name: str, value: str) -> str | None:
    return value


def path(_name: str, value: str) -> Path:
    return Path(value).expanduser()


def flag_01(name: str, value: str) -> bool:
    if value not in {"0", "1"}:
        raise BadInputError(f"{name}: got {value!r}; use 1 (on) or 0 (off)")
    return value == "1"


def rate(name: str, text: str) -> float:
    """A finite number above zero (calls per second)."""
    value = seconds(name, text)
    if value <= 0:
        raise BadInputError(f"{name}: got {text!r}; use a number above 0")
    return value


def count(name: str, text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise BadInputError(f"{name}: got {text!r}; use a whole number >= 1")
    return int(text)


def _rate(name: str, default: float, description: str) -> Setting[float]:
    return _knob(
        Setting(name=name, default=default, parse=rate, type="per second", description=description)
    )


def _seconds(name: str, default: float, description: str) -> Setting[float]:
    return _knob(
        Setting(name=name, default=default, parse=seconds, type="seconds", description=description)
    )


def _text(
    name: str,
    description: str,
    *,
    type: str = "text",
    shown: str | None = None,
    read_by: str = "layers",
) -> Setting[str | None]:
    return _knob(
        Setting[str | None](
            name=name,
            default=None,
            parse=text,
            type=type,
            shown_default=shown,
            description=description,
            read_by=read_by,
        )
    )


# --- AWS (boto3 reads its other standard variables itself: AWS_PROFILE, AWS_REGION, ...)
AWS_ENDPOINT_URL = _text(
    "AWS_ENDPOINT_URL",
    "send every AWS call here (a local moto server); also re-points the local stacks' "
    "provider at synth",
    type="URL",
    shown="unset (AWS; a local environment: its own endpoint)",
    read_by="layers, cdktf synth",
)
AWS_CREDENTIAL_SOURCES = tuple(
    _text(
        name,
        "set: a local environment uses the configured credentials, not moto's dummy ones "
        "(boto3 reads them)",
    )
    for name in ("AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE")
)
LAYERS_AWS_READ_TIMEOUT = _seconds(
    "LAYERS_AWS_READ_TIMEOUT",
    60.0,
    "an AWS response slower than this counts as lost (then read back)",
)
LAYERS_AWS_CONNECT_TIMEOUT = _seconds(
    "LAYERS_AWS_CONNECT_TIMEOUT", 10.0, "time to connect to an AWS endpoint"
)
# --- The release engine (scripts/release/timing.py)
LAYERS_CONFLICT_DELAYS = _knob(
    Setting[tuple[float, ...]](
        name="LAYERS_CONFLICT_DELAYS",
        default=(1.0, 2.0, 4.0, 8.0, 15.0, 15.0),
        parse=seconds_list,
        type="seconds,...",
        description="waits between retries while Lambda answers 'update in progress'",
    )
)
LAYERS_POLL_DELAY = _seconds(
    "LAYERS_POLL_DELAY", 1.0, "time between reads while a function update settles"
)
LAYERS_SETTLE_TIMEOUT = _seconds(
    "LAYERS_SETTLE_TIMEOUT", 600.0, "how long a function update may take to settle"
)
LAYERS_LOCK_LEASE = _seconds(
    "LAYERS_LOCK_LEASE", 120.0, "a deploy lock not renewed for this long belongs to a dead run"
)
LAYERS_ALARM_POLL = _seconds(
    "LAYERS_ALARM_POLL", 10.0, "time between alarm reads during a canary bake"
)
# --- Lambda's control-plane quota (scripts/release/pacing.py): per account and region
LAYERS_LAMBDA_RPS = _rate(
    "LAYERS_LAMBDA_RPS", 15.0, "Lambda API calls per second (the account's quota for most APIs)"
)
LAYERS_LAMBDA_GET_FUNCTION_RPS = _rate(
    "LAYERS_LAMBDA_GET_FUNCTION_RPS", 100.0, "GetFunction calls per second (its own quota)"
)
LAYERS_LAMBDA_GET_POLICY_RPS = _rate(
    "LAYERS_LAMBDA_GET_POLICY_RPS", 15.0, "GetPolicy calls per second (its own quota)"
)
LAYERS_LAMBDA_WORKERS = _knob(
    Setting(
        name="LAYERS_LAMBDA_WORKERS",
        default=32,
        parse=count,
        type="count",
        description="functions a release works on at once (the pacer bounds the calls)",
    )
)
LAYERS_LAMBDA_DEADLINE = _seconds(
    "LAYERS_LAMBDA_DEADLINE", 1800.0, "how long a run keeps retrying throttled (429) calls"
)
# --- The build
LAYERS_CACHE_DIR = _text(
    "LAYERS_CACHE_DIR",
    "cache of deflated files and bytecode for layer builds; off disables it",
    type="path or off",
    shown="$XDG_CACHE_HOME/bluemoxon-layers",
)
XDG_CACHE_HOME = _knob(
    Setting(
        name="XDG_CACHE_HOME",
        default=Path.home() / ".cache",
        parse=path,
        type="path",
        shown_default="~/.cache",
        description="where the build cache lives unless LAYERS_CACHE_DIR says",
    )
)
LAYERS_PYTHON = _text(
    "LAYERS_PYTHON_3_X",
    "the python3.X that compiles the layer's bytecode (one per minor: LAYERS_PYTHON_3_12)",
    type="path",
    shown="found on PATH, pyenv, /usr/bin",
)
PYENV_ROOT = _knob(
    Setting(
        name="PYENV_ROOT",
        default=Path.home() / ".pyenv",
        parse=path,
        type="path",
        shown_default="~/.pyenv",
        description="where the bytecode compiler looks for pyenv's Pythons",
    )
)
# --- The configuration
LAYERS_ENVIRONMENTS_DIR = _knob(
    Setting[Path | None](
        name="LAYERS_ENVIRONMENTS_DIR",
        default=None,
        parse=path,
        type="path",
        shown_default="environments/ (the repository's)",
        description="read the environment files (NAME.toml) from this folder instead: a "
        "rehearsal of a discovered estate (`discover --out DIR/NAME.toml`)",
        read_by="layers, cdktf synth",
    )
)
# --- Local runs, output and records
TF_PLUGIN_MIRROR = _text(
    "TF_PLUGIN_MIRROR",
    "terraform provider mirror for offline applies (pipeline, e2e tests)",
    type="path",
)
NO_COLOR = _text(
    "NO_COLOR", "set: no colour on stderr (colour is only ever used on a terminal)", type="any"
)
TERM = _text("TERM", "dumb: no colour on stderr")
GITHUB_ACTOR = _text(
    "GITHUB_ACTOR",
    "who holds the deploy lock and ran a release (CI sets it)",
    shown="unset (the login name)",
)
GITHUB_RUN = tuple(
    _text(name, f"recorded in each release record ({what}; CI sets it)")
    for name, what in (
        ("GITHUB_RUN_ID", "the workflow run"),
        ("GITHUB_REPOSITORY", "the repository"),
        ("GITHUB_SHA", "the commit"),
    )
)
# --- Read by the CDKTF app (main.py) and the test suite, listed so one table holds them all
LAYERS_FAST_PROVIDER_IMPORT = _knob(
    Setting(
        name="LAYERS_FAST_PROVIDER_IMPORT",
        default=True,
        parse=flag_01,
        type="0 or 1",
        shown_default="1",
        description="0 imports the AWS provider bindings the normal (slow) way at synth",
        read_by="cdktf synth",
    )
)
LAYERS_REQUIRE_E2E = _knob(
    Setting(
        name="LAYERS_REQUIRE_E2E",
        default=False,
        parse=flag_01,
        type="0 or 1",
        shown_default="0",
        description="1: the terraform e2e tests fail instead of skipping without their tools",
        read_by="tests",
    )
)


def python_variable(minor: str) -> str:
    """`LAYERS_PYTHON_3_12` for minor "3.12": the one variable family with a name per value."""
    return "LAYERS_PYTHON_" + minor.replace(".", "_")


def python_override(minor: str, environ: Mapping[str, str] | None = None) -> str | None:
    return (os.environ if environ is None else environ).get(python_variable(minor)) or None


def cache_dir(environ: Mapping[str, str] | None = None) -> Path | None:
    """The build cache's directory, or None when LAYERS_CACHE_DIR turns it off."""
    configured = LAYERS_CACHE_DIR.read(environ)
    if configured and configured.lower() in {"off", "0", "none"}:
        return None
    if configured:
        return Path(configured)
    return XDG_CACHE_HOME.read(environ) / "bluemoxon-layers"


def color_allowed(environ: Mapping[str, str] | None = None) -> bool:
    environ = os.environ if environ is None else environ
    # no-color.org: present at all turns colour off (`"NO_COLOR" in`, not a value test).
    return NO_COLOR.name not in environ and TERM.read(environ) != "dumb"


def aws_credentials_configured(environ: Mapping[str, str] | None = None) -> bool:
    return any(setting.read(environ) for setting in AWS_CREDENTIAL_SOURCES)


def child_environ() -> dict[str, str]:
    """A copy of the whole environment for a child process (terraform, moto, Python)."""
    return dict(os.environ)


def markdown_table() -> str:
    """The table of variables in docs/commands.md."""
    lines = [
        "| variable | type | default | what it does | read by |",
        "| --- | --- | --- | --- | --- |",
    ]
    for s in SETTINGS:
        lines.append(
            f"| `{s.name}` | {s.type} | {s.default_text()} | {s.description} | {s.read_by} |"
        )
    return "\n".join(lines)


def help_text() -> str:
    """The `--help` epilog's section: one line per variable."""
    width = max(len(s.name) for s in SETTINGS)
    lines = ["environment variables (default in brackets):"]
    for s in SETTINGS:
        lines.append(f"  {s.name:<{width}}  {s.description} [{s.default_text()}]")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown_table())
