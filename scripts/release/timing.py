"""How long the release engine waits, backs off and holds the deploy lock.

One object, injected everywhere: the tests shorten every delay through it (and through the
test double's own windows) instead of patching modules, and the CLI builds it from the
`LAYERS_*` variables, so a CLI run in a test is as quick as an in-process one. Those
variables, with these fields' defaults, are declared in `scripts.settings`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from scripts import settings
from scripts.errors import BadInputError


@dataclass(frozen=True, kw_only=True)
class Timing:
    # Backoff while Lambda answers "update in progress" (ResourceConflict), in seconds.
    conflict_delays: tuple[float, ...] = settings.LAYERS_CONFLICT_DELAYS.default
    # Polling while an update settles (LastUpdateStatus InProgress): Lambda finishes most
    # within seconds, some (VPC functions) within minutes.
    poll_delay_s: float = settings.LAYERS_POLL_DELAY.default
    settle_timeout_s: float = settings.LAYERS_SETTLE_TIMEOUT.default
    # The deploy lock: its holder renews it every third of the lease; a lock not renewed for
    # a whole lease belongs to a run that died, and the next command takes it over.
    lock_lease_s: float = settings.LAYERS_LOCK_LEASE.default
    # Canary bakes poll their alarms at this interval.
    alarm_poll_s: float = settings.LAYERS_ALARM_POLL.default
    # The AWS clients' own limits: a response slower than `read_timeout_s` is treated as
    # lost (the engine then reads back what happened).
    read_timeout_s: float = settings.LAYERS_AWS_READ_TIMEOUT.default
    connect_timeout_s: float = settings.LAYERS_AWS_CONNECT_TIMEOUT.default
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        if any(d < 0 for d in self.conflict_delays):
            raise ValueError("conflict_delays: delays must be >= 0")
        if self.poll_delay_s < 0 or self.settle_timeout_s <= 0:
            raise ValueError("poll_delay_s >= 0 and settle_timeout_s > 0 required")
        if self.lock_lease_s <= 0 or self.alarm_poll_s <= 0:
            raise ValueError("lock_lease_s and alarm_poll_s must be positive")


def timing_from(environ: Mapping[str, str] | None = None) -> Timing:
    """Defaults, overridden by whichever `LAYERS_*` variables are set (scripts.settings)."""
    try:
        return Timing(
            conflict_delays=settings.LAYERS_CONFLICT_DELAYS.read(environ),
            poll_delay_s=settings.LAYERS_POLL_DELAY.read(environ),
            settle_timeout_s=settings.LAYERS_SETTLE_TIMEOUT.read(environ),
            lock_lease_s=settings.LAYERS_LOCK_LEASE.read(environ),
            alarm_poll_s=settings.LAYERS_ALARM_POLL.read(environ),
            read_timeout_s=settings.LAYERS_AWS_READ_TIMEOUT.read(environ),
            connect_timeout_s=settings.LAYERS_AWS_CONNECT_TIMEOUT.read(environ),
        )
    except ValueError as err:
        raise BadInputError(str(err)) from None
