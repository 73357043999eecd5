"""Retry: every five minutes, moves messages from the dead-letter queues back to their queues."""

from __future__ import annotations

import os
from typing import Any

from app.version import is_version_probe, version_info


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if is_version_probe(event):
        return version_info()
    queues = [q for q in os.environ.get("RETRY_QUEUE_URLS", "").split(",") if q]
    # The real one starts an SQS message move task per dead-letter queue.
    return {"queues": queues, "moved": 0}
