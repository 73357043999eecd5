"""The package's version, as the build wrote it: version_info.json when the package holds one
(the build's `generated` files), else the VERSION file every package has."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

_ROOT = Path(__file__).resolve().parent.parent


def version_info() -> dict[str, Any]:
    info = _ROOT / "version_info.json"
    if info.is_file():
        found: dict[str, Any] = json.loads(info.read_text())
        return found
    return {"version": (_ROOT / "VERSION").read_text().strip()}


def is_version_probe(event: Any) -> bool:
    """`{"version": true}`: what a deploy check sends a worker to learn what it runs."""
    return isinstance(event, dict) and event.get("version") is True
