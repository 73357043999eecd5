"""One paced Lambda client per account and region: the quota, 429 backoff, one deadline.

Lambda's control plane allows 15 requests per second per account and region for every API
except GetFunction (100/s) and GetPolicy (15/s, its own budget); beyond that it answers
HTTP 429 `TooManyRequestsException`. Every Lambda call of a run (release, undo, rollback,
crash recovery, the layer and snapshot calls that use the client directly) goes through
the client the run's `Api` holds, and that client carries one `Pacer`:

- a token bucket per budget, shared by every thread of the run, sized to the quota
  (`Timing.lambda_rps` and friends: LAYERS_LAMBDA_RPS...), with a small burst so requests
  that arrive bunched still fit Lambda's own bucket;
- a 429 is a signal to slow down: the budget's rate is halved (and grows back with each
  success, up to the quota), and the call is sent again after a jittered backoff (at
  least Lambda's `Retry-After`) -- never a failure while the run's deadline
  (LAYERS_LAMBDA_DEADLINE) allows.

This is botocore's own mechanism, hooked the way its `adaptive` retry mode hooks itself
(`before-send` takes a token, `needs-retry` reads the answer), and botocore's retries stay
in charge of everything else (lost connections, 5xx). Ours differs where a release needs it
to: adaptive mode starts unlimited and learns the rate from 429s, one limiter per client
and one rate for all APIs, and gives up after a fixed number of attempts (the retry quota
of `standard` mode is spent within seconds by 64 threads). Here the budgets are known in
advance (GetFunction has its own), one limiter serves every thread of the run, and a
throttled call is retried until the deadline of the whole run, not a count of attempts:
an undo that gave up on a 429 would leave callers torn between releases.
"""

from __future__ import annotations

import random
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from scripts.release.timing import Timing

THROTTLED = "TooManyRequestsException"
# Budgets of their own; every other Lambda API shares GENERAL.
GENERAL = "general"
OWN_BUDGET = frozenset({"GetFunction", "GetPolicy"})
# The data plane: invocations count against concurrency, not the control-plane quota.
UNPACED = frozenset({"Invoke", "InvokeAsync", "InvokeWithResponseStream"})
# A small burst: Lambda's bucket is full when a run starts, but requests sent evenly can
# arrive bunched, and a burst as large as Lambda's would then overflow it.
BURST_S = 0.3
# Backoff after a 429: full jitter on base * 2**n, capped (seconds).
BACKOFF_BASE_S = 0.25
BACKOFF_CAP_S = 4.0
# After a 429 the rate halves, never below this share of the quota.
MIN_SHARE = 0.1


@dataclass
class Bucket:
    """A token bucket whose callers reserve their slot under the lock and sleep outside it,
    so threads queue in order and nobody spins."""

    limit: float  # the configured rate (requests per second)
    clock: Callable[[], float]
    rate: float = 0.0  # the current rate: the limit, lowered after 429s
    tokens: float = 1.0
    stamp: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.rate = self.limit
        self.tokens = self.burst
        self.stamp = self.clock()

    @property
    def burst(self) -> float:
        return max(1.0, self.rate * BURST_S)

    def reserve(self) -> float:
        """Take a token; returns how long to wait before sending."""
        with self.lock:
            now = self.clock()
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            self.tokens -= 1.0
            return 0.0 if self.tokens >= 0 else -self.tokens / self.rate

    def throttled(self) -> None:
        """Lambda said 429: halve the rate and drop the burst."""
        with self.lock:
            self.rate = max(self.limit * MIN_SHARE, self.rate / 2)
            self.tokens = min(self.tokens, 0.0)

    def succeeded(self) -> None:
        """Grow back towards the limit: a twentieth of it per successful call."""
        if self.rate < self.limit:
            with self.lock:
                self.rate = min(self.limit, self.rate + self.limit / 20)


@dataclass
class Pacer:
    """The buckets and the deadline of one client (one account and region)."""

    timing: Timing
    deadline: float = 0.0
    buckets: dict[str, Bucket] = field(default_factory=dict)
    throttles: int = 0  # 429s seen (reports and tests)
    # What this run learnt about update windows (seconds from our write's answer): the
    # longest still in progress, and the shortest seen done. Polls aim between them.
    window_lo: float = 0.0
    window_hi: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    # While no window is known, one update (the scout's) is polled to measure it; the
    # others wait for its answer instead of each polling their way up to it.
    scouting: bool = False
    measured: threading.Condition = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.measured = threading.Condition(self.lock)
        self.configure(self.timing)

    def configure(self, timing: Timing) -> None:
        """A new run on this client: its quota and deadline (the learnt window stays)."""
        self.timing = timing
        limits = {
            GENERAL: timing.lambda_rps,
            "GetFunction": timing.get_function_rps,
            "GetPolicy": timing.get_policy_rps,
        }
        if {k: b.limit for k, b in self.buckets.items()} != limits:
            self.buckets = {k: Bucket(limit=v, clock=timing.clock) for k, v in limits.items()}
        self.deadline = timing.clock() + timing.lambda_deadline_s

    def bucket(self, operation: str) -> Bucket:
        return self.buckets[operation if operation in OWN_BUDGET else GENERAL]

    def learn_window(self, elapsed: float, *, done: bool) -> None:
        with self.lock:
            if not done:
                self.window_lo = max(self.window_lo, elapsed)
            elif not self.window_hi or elapsed < self.window_hi:
                self.window_hi = elapsed
                self.measured.notify_all()

    def await_window(self, timeout_s: float) -> bool:
        """Wait until some update's window is known; True when the caller must measure it
        (it is the scout, and calls `scouted` when its update is done or failed)."""
        end = self.timing.clock() + timeout_s
        with self.lock:
            while not self.window_hi:
                if not self.scouting:
                    self.scouting = True
                    return True
                left = end - self.timing.clock()
                if left <= 0:
                    return False
                self.measured.wait(timeout=left)
            return False

    def scouted(self) -> None:
        with self.lock:
            self.scouting = False
            self.measured.notify_all()

    def next_poll(self, elapsed: float, *, first: bool) -> float:
        """When (seconds after the write's answer) to read next, `elapsed` being now.

        Once some update was seen done, at that age: one read each. Before that, the
        first read after LAYERS_POLL_DELAY, then each at 1.5 times the age of the last (4
        reads for a 3 s window, a dozen for a VPC function's minutes)."""
        with self.lock:
            hi, lo = self.window_hi, self.window_lo
        if hi > elapsed and hi > lo:
            return hi
        if first:
            return max(self.timing.poll_delay_s, lo * 1.25)
        return elapsed + min(max(elapsed / 2, self.timing.poll_delay_s / 2), 15.0)

    # ---- botocore hooks ------------------------------------------------------------

    def before_send(self, event_name: str, **_: Any) -> None:
        operation = event_name.rsplit(".", 1)[-1]
        if operation in UNPACED:
            return
        wait = self.bucket(operation).reserve()
        if wait > 0:
            self.timing.sleep(wait)

    def needs_retry(self, response: Any, attempts: int, operation: Any, **_: Any) -> float | None:
        """0 (retry now: the backoff was slept here) after a 429 within the deadline; None
        otherwise, which leaves the decision to botocore's own retry handler."""
        if operation.name in UNPACED:
            return None
        bucket = self.bucket(operation.name)
        if not _is_throttled(response):
            if response is not None:
                bucket.succeeded()
            return None
        bucket.throttled()
        with self.lock:
            self.throttles += 1
        cap = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** min(attempts, 8))
        delay = random.uniform(0.0, cap)  # noqa: S311 -- jitter, not a secret
        delay = max(delay, _retry_after(response))
        if self.timing.clock() + delay > self.deadline:
            return None  # the run's deadline: this 429 fails the call
        self.timing.sleep(delay)
        return 0.0


def _is_throttled(response: Any) -> bool:
    if not response:
        return False
    http, parsed = response
    code = (parsed or {}).get("Error", {}).get("Code")
    return bool(code == THROTTLED or getattr(http, "status_code", 0) == 429)


def _retry_after(response: Any) -> float:
    try:
        return min(BACKOFF_CAP_S, float(response[0].headers.get("Retry-After", 0)))
    except (TypeError, ValueError, AttributeError):
        return 0.0


# One pacer per client object: every `Api` made on a client shares its limiter.
_PACERS: weakref.WeakKeyDictionary[Any, Pacer] = weakref.WeakKeyDictionary()
_REGISTRY_LOCK = threading.Lock()


def pacer_for(client: Any, timing: Timing) -> Pacer:
    """The client's pacer, hooked into it on first use; a later run reconfigures it."""
    with _REGISTRY_LOCK:
        pacer = _PACERS.get(client)
        if pacer is None:
            pacer = Pacer(timing)
            events = client.meta.events
            events.register("before-send.lambda", pacer.before_send)
            # First, so a 429 is ours to decide before botocore counts it against its
            # attempts; any other answer falls through to botocore's handler.
            events.register_first("needs-retry.lambda", pacer.needs_retry)
            _PACERS[client] = pacer
        else:
            pacer.configure(timing)
        return pacer
