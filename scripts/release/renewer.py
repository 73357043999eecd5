"""Renewing a held deploy lock in the background while its run works.

Every third of the lease; a failed renewal (a store hiccup) is retried within seconds,
so a live holder's lock never goes a renewal interval and a half unrenewed (what
`unlock` takes for a holder that is gone). A renewal that finds another run's lock
means the lock was lost: the run stops at once. One that finds its own lock marked by
`unlock --force` tells the run to stop, put back what it changed, and release.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from scripts.errors import ConditionFailedError, ToolError
from scripts.release.lock import MARGIN_S, Lock


class Renewer:
    """Renews a held lock in the background; calls `on_lost` when a renewal finds it taken
    and `on_revoked` once when it finds it marked by `unlock --force`."""

    def __init__(
        self,
        lock: Lock,
        *,
        on_lost: Callable[[str], None],
        on_revoked: Callable[[str], None] = lambda _m: None,
    ) -> None:
        self.lock = lock
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._on_lost = on_lost
        self._on_revoked = on_revoked
        self._told = False
        self._thread = threading.Thread(target=self._run, name="lock-renewer", daemon=True)

    def __enter__(self) -> Renewer:
        if self.lock.renewed_at == 0.0:
            self.lock.renewed_at = self.lock.timing.clock()
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        interval = self.lock.timing.lock_lease_s / 3
        wait = interval
        while not self._stop.wait(wait):
            wait = interval
            try:
                self.lock.renew()
            except ConditionFailedError:
                self.lost.set()
                self._on_lost("the deploy lock was taken over by another run: stopped")
                return
            except ToolError as err:
                # A store hiccup: retry soon, not a whole interval later, so that a live
                # holder's lock never looks abandoned to `unlock` (1.5 intervals).
                wait = min(interval, 2.0)
                self._on_lost_soft(str(err))
                continue
            self.notice_revocation()

    def notice_revocation(self) -> None:
        if self.lock.revoked and not self._told:
            self._told = True
            self._on_revoked(f"asked to stop by {self.lock.revoked}")

    def _on_lost_soft(self, message: str) -> None:
        # Our own lease, by our own clock: a duration since our last successful write.
        timing = self.lock.timing
        if timing.clock() - self.lock.renewed_at > timing.lock_lease_s - MARGIN_S:
            self.lost.set()
            self._on_lost(
                f"the deploy lock could not be renewed before its lease ran out: {message}"
            )
