"""Human progress on stderr: one line per step with its time.

stdout is reserved for the single `--json` object, so nothing here ever prints to it.
`--quiet` keeps warnings and errors only, `--verbose` adds detail lines; colour is used
only when stderr is a terminal and `NO_COLOR` is not set (https://no-color.org).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from scripts import settings

QUIET, NORMAL, VERBOSE = 0, 1, 2
_RED, _YELLOW, _DIM, _RESET = "\033[31m", "\033[33m", "\033[2m", "\033[0m"


@dataclass
class _Settings:
    level: int = NORMAL
    color: bool = False


_settings = _Settings()


def wants_color(environ: Mapping[str, str] | None, *, is_tty: bool) -> bool:
    return is_tty and settings.color_allowed(environ)


def configure(*, level: int, environ: Mapping[str, str] | None = None) -> None:
    """Set once by the CLI entry from `--quiet`/`--verbose` and the terminal."""
    _settings.level = level
    _settings.color = wants_color(environ, is_tty=sys.stderr.isatty())


def _print(message: str, color: str | None = None) -> None:
    if color and _settings.color:
        message = f"{color}{message}{_RESET}"
    print(message, file=sys.stderr, flush=True)


def say(message: str) -> None:
    """A progress line; warnings (lines starting `warning:`) survive --quiet, coloured."""
    if message.lstrip().startswith(("warning:", "WARNING")):
        _print(message, _YELLOW)
    elif _settings.level >= NORMAL:
        _print(message)


def detail(message: str) -> None:
    """Only with --verbose."""
    if _settings.level >= VERBOSE:
        _print(message, _DIM)


def live(line: str) -> None:
    """A status line rewritten in place (a canary's countdown): only on a terminal; an
    empty line clears it. Callers off a terminal print plain lines with `say` instead."""
    if _settings.level >= NORMAL:
        sys.stderr.write("\r\033[K" + line)
        sys.stderr.flush()


def is_terminal() -> bool:
    return sys.stderr.isatty()


def error(message: str) -> None:
    _print(message, _RED)


def environ_level(quiet: bool, verbose: bool) -> int:
    return QUIET if quiet else VERBOSE if verbose else NORMAL


def color_enabled() -> bool:
    return _settings.color


@contextmanager
def step(title: str, *, heartbeat_s: float | None = None) -> Iterator[None]:
    """Time a step and report it on one line, also when it fails.

    With `heartbeat_s`, a long step (a cold wheel install) also prints a short "still
    running" line at that interval, so a person can tell slow from stuck.
    """
    started = time.perf_counter()
    done = threading.Event()
    if heartbeat_s is not None:

        def beat() -> None:
            while not done.wait(heartbeat_s):
                say(f"    ... {title}: {time.perf_counter() - started:.0f}s")

        threading.Thread(target=beat, name=f"heartbeat: {title}", daemon=True).start()
    try:
        yield
    except BaseException:
        say(f"  {title}: failed after {time.perf_counter() - started:.1f}s")
        raise
    finally:
        done.set()
    say(f"  {title}: {time.perf_counter() - started:.1f}s")
