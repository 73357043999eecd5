"""What one release command works with: its environment, Lambda, store, clock and stop.

Its own module so the release modules that only take a context (recover, canary) import it
without importing `release.py`, which imports them: that was an import circle, kept alive
by `TYPE_CHECKING` imports.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from environments import Environment
from scripts.release import lock
from scripts.release.lambda_api import Api
from scripts.release.timing import Timing
from scripts.stop import Stop
from scripts.store import Store

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

    from scripts.release.history import ReleaseRecord


@dataclass
class Context:
    """One command's view of an environment: its Lambda, its store, its clock, its stop."""

    env: Environment
    api: Api
    store: Store
    timing: Timing
    say: Callable[[str], None] = lambda _line: None
    # Set by a signal handler or a lost lock: no further writes.
    stop: Stop = field(default_factory=Stop)
    lock_lost: bool = False
    held: lock.Lock | None = None  # the deploy lock, while `session` holds it
    alarms: Callable[[Sequence[str]], Mapping[str, str]] | None = None
    # A line rewritten in place on a terminal (the canary's countdown); None: plain lines.
    live: Callable[[str], None] | None = None
    # The release a dead run left `started` that `session` just put back after callers
    # had been served some of it (a switch or a canary midway), if any.
    put_back: ReleaseRecord | None = None
    # Set by `session`: turns a revocation a renewal found into a stop (once).
    notice_revocation: Callable[[], None] = field(default=lambda: None, repr=False)
    # Hooks and smoke checks invoke through this one (no retries, a long read timeout:
    # scripts.clients.invoke_client); None: the Api's client.
    invoker: LambdaClient | None = None
    # Makes a CloudWatch Logs client: a canary's bake prints the new versions' error lines.
    logs: Callable[[], Any] | None = None
    # Plan and report only: no lock, no write (scripts.release.dry_run).
    dry_run: bool = False

    @property
    def reason(self) -> str | None:
        return self.stop.reason

    def cancel(self, reason: str) -> None:
        self.stop.set(reason)
