"""Lambda's control-plane quota, as the test double enforces it (off unless asked for).

AWS documents 15 requests per second per account and region for the Lambda control-plane
APIs, except GetFunction (100/s) and GetPolicy (15/s, a budget of its own); beyond that
Lambda answers HTTP 429 `TooManyRequestsException` ("Rate exceeded"). Modelled as one token
bucket per account (the caller's access key), region and budget, each holding a second's
worth of requests, so a caller that keeps to the rate is never refused and a burst of a
second's worth passes once.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from lambda_double_api import LambdaError

GENERAL = "general"
OWN_BUDGET = frozenset({"GetFunction", "GetPolicy"})
# The data plane: invocations have concurrency limits, not this quota.
UNMETERED = frozenset({"Invoke", "InvokeAsync", "InvokeWithResponseStream"})
_SCOPE = re.compile(r"Credential=([^/,]+)/[^/,]+/([^/,]+)/lambda/")


def throttled(retry_after_s: float) -> LambdaError:
    """Lambda's 429 as botocore parses it (`TooManyRequestsException`, `Retry-After`)."""
    return LambdaError(
        429,
        "TooManyRequestsException",
        "Rate exceeded",
        extra={"Reason": "CallerRateLimitExceeded"},
        retry_after_s=retry_after_s,
    )


@dataclass
class Quota:
    """Requests per second per budget; `admit` takes a token or says how long to wait."""

    rps: float = 15.0
    get_function_rps: float = 100.0
    get_policy_rps: float = 15.0
    clock: Callable[[], float] = field(default=lambda: 0.0)
    refused: int = 0
    _buckets: dict[tuple[str, str, str], list[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def rate(self, budget: str) -> float:
        return {"GetFunction": self.get_function_rps, "GetPolicy": self.get_policy_rps}.get(
            budget, self.rps
        )

    def admit(self, authorization: str, operation: str) -> LambdaError | None:
        """None when the call is within its budget; else the 429 to answer."""
        if operation in UNMETERED:
            return None
        found = _SCOPE.search(authorization)
        account, region = (found[1], found[2]) if found else ("?", "?")
        budget = operation if operation in OWN_BUDGET else GENERAL
        rate = self.rate(budget)
        with self._lock:
            now = self.clock()
            tokens, stamp = self._buckets.get((account, region, budget), (rate, now))
            tokens = min(rate, tokens + (now - stamp) * rate)
            if tokens < 1.0:
                self._buckets[(account, region, budget)] = [tokens, now]
                self.refused += 1
                return throttled(1.0)
            self._buckets[(account, region, budget)] = [tokens - 1.0, now]
            return None
