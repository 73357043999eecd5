"""Benchmarks against the baselines users would otherwise use, measured side by side.

`make bench` (or `python -m bench`) prints a table and writes bench/results.json;
`python -m bench --smoke` is the fast offline version CI runs (figures printed, not
asserted). See bench/run.py for what each figure measures.
"""

from __future__ import annotations

import sys


def say(message: str) -> None:
    """Progress on stderr: stdout carries only the table."""
    print(message, file=sys.stderr, flush=True)
