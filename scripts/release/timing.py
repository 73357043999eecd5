"""How long the release engine waits, backs off and holds the deploy lock.

One object, injected everywhere: the tests shorten every delay through it (and through the
test double's own windows) instead of patching modules, and the CLI builds it from
`LAYERS_*` variables so a CLI run in a test is as quick as an in-process one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from scripts.errors import BadInputError


@dataclass(frozen=True, kw_only=True)
class Timing:
    # Backoff while Lambda answers "update in progress" (ResourceConflict), in seconds.
    conflict_delays: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 15.0, 15.0)
    # Polling while an update settles (LastUpdateStatus InProgress): Lambda finishes most
    # within seconds, some (VPC functions) within minutes.
    poll_delay_s: float = 1.0
    settle_timeout_s: float = 600.0
    # The deploy lock: its holder renews it every third of the lease; a lock not renewed for
    # a whole lease belongs to a run that died, and the next command takes it over.
    lock_lease_s: float = 120.0
    # Canary bakes poll their alarms at this interval.
    alarm_poll_s: float = 10.0
    # The AWS clients' own limits: a response slower than `read_timeout_s` is treated as
    # lost (the engine then reads back what happened).
    read_timeout_s: float = 60.0
    connect_timeout_s: float = 10.0
    # Lambda's control-plane quota per account and region (requests per second): GetFunction
    # and GetPolicy have budgets of their own, every other Lambda API shares one.
    lambda_rps: float = 15.0
    get_function_rps: float = 100.0
    get_policy_rps: float = 15.0
    # Functions worked on at once. Most of a function's time is an update window in which
    # it makes no call, so this is above the call rate's needs; the pacer bounds the calls.
    lambda_workers: int = 32
    # How long a run keeps retrying throttled (429) calls before one counts as failed.
    lambda_deadline_s: float = 1800.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        if any(d < 0 for d in self.conflict_delays):
            raise ValueError("conflict_delays: delays must be >= 0")
        if self.poll_delay_s < 0 or self.settle_timeout_s <= 0:
            raise ValueError("poll_delay_s >= 0 and settle_timeout_s > 0 required")
        if self.lock_lease_s <= 0 or self.alarm_poll_s <= 0:
            raise ValueError("lock_lease_s and alarm_poll_s must be positive")
        if min(self.lambda_rps, self.get_function_rps, self.get_policy_rps) <= 0:
            raise ValueError("LAYERS_LAMBDA_RPS, _GET_FUNCTION_RPS, _GET_POLICY_RPS must be > 0")
        if self.lambda_workers < 1 or self.lambda_deadline_s <= 0:
            raise ValueError("LAYERS_LAMBDA_WORKERS >= 1 and LAYERS_LAMBDA_DEADLINE > 0 required")


# Variables the CLI entry reads (tests and impatient operators set them).
VARIABLES: Mapping[str, str] = {
    "LAYERS_CONFLICT_DELAYS": "comma-separated seconds between 'update in progress' retries",
    "LAYERS_POLL_DELAY": "seconds between reads while an update settles",
    "LAYERS_SETTLE_TIMEOUT": "seconds an update may take to settle",
    "LAYERS_LOCK_LEASE": "seconds a deploy lock lives without renewal",
    "LAYERS_ALARM_POLL": "seconds between alarm reads during a canary bake",
    "LAYERS_AWS_READ_TIMEOUT": "seconds an AWS response may take before it counts as lost",
    "LAYERS_AWS_CONNECT_TIMEOUT": "seconds to connect to an AWS endpoint",
    "LAYERS_LAMBDA_RPS": "Lambda API calls per second (the account's quota; default 15)",
    "LAYERS_LAMBDA_GET_FUNCTION_RPS": "GetFunction calls per second (its own quota; default 100)",
    "LAYERS_LAMBDA_GET_POLICY_RPS": "GetPolicy calls per second (its own quota; default 15)",
    "LAYERS_LAMBDA_WORKERS": "functions a release works on at once (default 32)",
    "LAYERS_LAMBDA_DEADLINE": "seconds a run keeps retrying throttled Lambda calls (default 1800)",
}


def _seconds(name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise BadInputError(f"{name}: got {text!r}; use a number of seconds") from None
    if value < 0:
        raise BadInputError(f"{name}: got {text!r}; use a number of seconds >= 0")
    return value


def timing_from(environ: Mapping[str, str]) -> Timing:
    """Defaults, overridden by whichever `LAYERS_*` variables are set."""
    delays = environ.get("LAYERS_CONFLICT_DELAYS")
    fields: dict[str, object] = {}
    if delays:
        fields["conflict_delays"] = tuple(
            _seconds("LAYERS_CONFLICT_DELAYS", part) for part in delays.split(",")
        )
    for variable, name in (
        ("LAYERS_POLL_DELAY", "poll_delay_s"),
        ("LAYERS_SETTLE_TIMEOUT", "settle_timeout_s"),
        ("LAYERS_LOCK_LEASE", "lock_lease_s"),
        ("LAYERS_ALARM_POLL", "alarm_poll_s"),
        ("LAYERS_AWS_READ_TIMEOUT", "read_timeout_s"),
        ("LAYERS_AWS_CONNECT_TIMEOUT", "connect_timeout_s"),
        ("LAYERS_LAMBDA_RPS", "lambda_rps"),
        ("LAYERS_LAMBDA_GET_FUNCTION_RPS", "get_function_rps"),
        ("LAYERS_LAMBDA_GET_POLICY_RPS", "get_policy_rps"),
        ("LAYERS_LAMBDA_DEADLINE", "lambda_deadline_s"),
    ):
        if environ.get(variable):
            fields[name] = _seconds(variable, environ[variable])
    workers = environ.get("LAYERS_LAMBDA_WORKERS")
    if workers:
        if not workers.isdigit():
            raise BadInputError(f"LAYERS_LAMBDA_WORKERS: got {workers!r}; use a whole number >= 1")
        fields["lambda_workers"] = int(workers)
    try:
        return Timing(**fields)  # type: ignore[arg-type]
    except ValueError as err:
        raise BadInputError(str(err)) from None
