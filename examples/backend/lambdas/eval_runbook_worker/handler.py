"""Runbook worker: runs evaluation runbooks delivered by an SQS queue."""

from __future__ import annotations

import json
from typing import Any

import httpx
from pydantic import BaseModel, HttpUrl


class Runbook(BaseModel):
    name: str
    check_url: HttpUrl | None = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    results: list[dict[str, Any]] = []
    for record in event.get("Records", []):
        runbook = Runbook.model_validate(json.loads(record["body"]))
        status = None
        if runbook.check_url is not None:
            status = httpx.get(str(runbook.check_url), timeout=10).status_code
        results.append({"runbook": runbook.name, "status": status})
    return {"results": results}
