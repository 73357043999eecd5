"""Analysis worker: analyses one book per SQS message (batch 1, partial batch failures)."""

from __future__ import annotations

from typing import Any

from app.models import Book
from app.sqs import run_batch
from app.version import is_version_probe, version_info


def _analyse(body: dict[str, Any]) -> None:
    Book.model_validate(body)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if is_version_probe(event):
        return version_info()
    return run_batch(event, _analyse)
