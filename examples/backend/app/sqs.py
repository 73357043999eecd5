"""Running an SQS batch with partial failures (the mappings' ReportBatchItemFailures): each
record is handled alone, and only the failed ones go back to the queue."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any


def run_batch(event: dict[str, Any], handle: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    failures = []
    for record in event.get("Records", []):
        try:
            handle(json.loads(record.get("body") or "{}"))
        except Exception:  # any failure returns this one message to the queue
            failures.append({"itemIdentifier": record.get("messageId", "")})
    return {"batchItemFailures": failures}
