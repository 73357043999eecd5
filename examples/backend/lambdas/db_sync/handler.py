"""DB sync worker: copies rows from a source database URL into the target database."""

from __future__ import annotations

import os
from typing import Any

import sqlalchemy
from pydantic import BaseModel


class SyncRequest(BaseModel):
    tables: list[str] = []
    dry_run: bool = True


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = SyncRequest.model_validate(event)
    source = sqlalchemy.create_engine(os.environ.get("SOURCE_DATABASE_URL", "sqlite://"))
    inspector = sqlalchemy.inspect(source)
    tables = request.tables or inspector.get_table_names()
    return {"tables": tables, "dry_run": request.dry_run}
