"""Tracking worker: polls one shipment's carrier per SQS message."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from app.sqs import run_batch
from app.version import is_version_probe, version_info


class Shipment(BaseModel):
    tracking_number: str


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if is_version_probe(event):
        return version_info()
    return run_batch(event, Shipment.model_validate)
