"""Tracking dispatcher: on its hourly schedule, says which shipments the tracking worker polls."""

from __future__ import annotations

import os
from typing import Any

from app.version import is_version_probe, version_info


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if is_version_probe(event):
        return version_info()
    # The real one sends a message per shipment to TRACKING_QUEUE_URL.
    return {"queue": os.environ.get("TRACKING_QUEUE_URL"), "dispatched": 0}
