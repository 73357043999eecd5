"""API handler: a minimal HTTP API behind a Lambda function URL or API Gateway (payload v2).

Its imports are the point: pydantic (with the compiled pydantic-core), SQLAlchemy and
httpx all come from the dependencies layer, so a cold start proves the layer is attached.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy
from pydantic import ValidationError

from app.models import Book, Health
from app.version import version_info

_VERSION = (Path(__file__).resolve().parent.parent / "VERSION").read_text().strip()
_ENGINE = sqlalchemy.create_engine(os.environ.get("DATABASE_URL", "sqlite://"))


def _response(status: int, body: Any) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(body),
    }


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    path = event.get("rawPath", "/")
    method = event.get("requestContext", {}).get("http", {}).get("method", "GET")
    if path == "/health":
        with _ENGINE.connect() as connection:
            connection.execute(sqlalchemy.text("SELECT 1"))
        return _response(200, Health(status="ok", version=_VERSION).model_dump())
    if path == "/books" and method == "POST":
        try:
            book = Book.model_validate_json(event.get("body") or "{}")
        except ValidationError as err:
            return _response(422, {"errors": err.errors(include_url=False)})
        return _response(201, book.model_dump())
    if path == "/health/version":
        return _response(200, version_info())
    if path == "/versions":
        return _response(200, {"httpx": httpx.__version__, "sqlalchemy": sqlalchemy.__version__})
    return _response(404, {"error": f"no route for {method} {path}"})
