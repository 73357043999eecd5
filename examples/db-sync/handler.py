"""db-sync's own package (`package = "own"` in environments/staging.toml): a zip of its own
with no deps layer, run by hand. The stack adopts its configuration; releases never touch
its code, so this file is only what a test world uploads as that zip."""

from __future__ import annotations

import json
from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if isinstance(event, dict) and event.get("version") is True:
        return {"version": "own-package"}
    return {"synced": [], "request": json.dumps(event, sort_keys=True)}
