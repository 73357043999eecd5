"""Stopping a release cleanly: SIGINT and SIGTERM ask for a stop instead of killing.

A release interrupted between two writes would leave functions torn, so for the commands
that change functions the CLI entry installs handlers that only set a `Stop`: the engine
makes no further write, puts back what the release changed, records it, and exits 1.
A second signal says it is still putting things back; SIGKILL remains the way out (the
next command then resolves the release from its history).
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import FrameType


@dataclass
class Stop:
    """Why a run must stop writing (a signal, a lost lock), shared between threads."""

    event: threading.Event = field(default_factory=threading.Event)
    reason: str | None = None

    def set(self, reason: str) -> None:
        self.reason = self.reason or reason
        self.event.set()

    def is_set(self) -> bool:
        return self.event.is_set()

    def wait(self, seconds: float) -> bool:
        return self.event.wait(seconds)


@contextlib.contextmanager
def graceful(stop: Stop) -> Iterator[Stop]:
    """SIGINT/SIGTERM set `stop` for the body; the previous handlers come back after."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if stop.is_set():
            print(f"{name}: already stopping; putting back what changed", file=sys.stderr)
            return
        print(
            f"{name}: stopping after the current call, then putting back what changed",
            file=sys.stderr,
            flush=True,
        )
        stop.set(f"interrupted by {name}")

    previous = {}
    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, handler)
    except ValueError:  # not the main thread (a test calling main() from a worker)
        yield stop
        return
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
