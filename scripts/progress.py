"""Human progress on stderr: one line per step with its time.

stdout is reserved for the single `--json` object, so nothing here ever prints to it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextmanager
def step(title: str) -> Iterator[None]:
    """Time a step and report it on one line, also when it fails."""
    started = time.perf_counter()
    try:
        yield
    except BaseException:
        say(f"  {title}: failed after {time.perf_counter() - started:.1f}s")
        raise
    say(f"  {title}: {time.perf_counter() - started:.1f}s")
