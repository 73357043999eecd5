"""Human progress on stderr: one line per step with its time.

stdout is reserved for the single `--json` object, so nothing here ever prints to it.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


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
