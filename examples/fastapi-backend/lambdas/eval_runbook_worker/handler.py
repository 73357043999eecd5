"""Runs evaluation runbooks from the queue, on uvloop."""

from __future__ import annotations

import asyncio

import uvloop


async def _run(records: list) -> int:
    await asyncio.sleep(0)
    return len(records)


def handler(event: dict, context: object) -> dict:
    return {"processed": uvloop.run(_run(event.get("Records", [])))}
