"""Verified uploads: content-addressed keys are written once, every write is checked back.

Two CI runs building the same lock race for `layer-HASH.zip`. The conditional write lets
exactly one of them create it; the other verifies that what is there is what it built
instead of replacing it. After every write the object's stored SHA-256 is read back and
compared, so a corrupted or truncated upload stops the run before the mutable key
(`layer.zip`, `backend.zip`) or the manifest points anyone at it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scripts.errors import BadInputError, ChecksumMismatchError, ObjectExistsError, ToolError
from scripts.store import Store, hex_to_b64


def object_key(store: Store, name: str, local_prefix: str = "") -> str:
    """The key as S3 (and so Terraform and Lambda) sees it; for a directory, prefixed name."""
    location = store.s3_location(name)
    return location[1] if location else f"{local_prefix}{name}"


def where(store: Store, name: str) -> str:
    """An object's full location, for messages: `s3://bucket/lambda/NAME` or a file path."""
    return f"{store.location}{'' if store.location.endswith('/') else '/'}{name}"


def verify_object(store: Store, name: str, *, sha256_hex: str, size: int) -> None:
    """The store holds `name` with exactly this content, by its own checksum."""
    info = store.head(name)
    location = where(store, name)
    if info is None:
        raise ToolError(f"{location}: missing right after upload: check the store and retry")
    expected = hex_to_b64(sha256_hex)
    if info.sha256_b64 is None:
        raise ChecksumMismatchError(
            f"{location}: stored without a SHA-256 checksum: delete it and rebuild"
        )
    if info.sha256_b64 != expected or info.size != size:
        raise ChecksumMismatchError(
            f"{location}: stored checksum {info.sha256_b64} ({info.size} bytes) differs from the "
            f"built {expected} ({size} bytes): delete the object and rebuild"
        )


def put_content_addressed(store: Store, name: str, path: Path, *, sha256_hex: str) -> bool:
    """Create `name` unless it exists; an existing object must match. True if we wrote it."""
    size = path.stat().st_size
    try:
        store.put_file(name, path, sha256_hex=sha256_hex, overwrite=False)
        created = True
    except ObjectExistsError:
        created = False
    verify_object(store, name, sha256_hex=sha256_hex, size=size)
    return created


def put_latest(store: Store, name: str, path: Path, *, sha256_hex: str) -> bool:
    """Point the mutable key at this content; no write when it already holds it."""
    size = path.stat().st_size
    current = store.head(name)
    if (
        current is not None
        and current.sha256_b64 == hex_to_b64(sha256_hex)
        and current.size == size
    ):
        return False
    store.put_file(name, path, sha256_hex=sha256_hex, overwrite=True)
    verify_object(store, name, sha256_hex=sha256_hex, size=size)
    return True


def manifest_bytes(manifest: Mapping[str, Any]) -> bytes:
    """Canonical JSON: identical builds write identical manifests, so racing writers agree."""
    return (json.dumps(manifest, sort_keys=True, indent=2) + "\n").encode("utf-8")


def put_manifest(store: Store, name: str, manifest: Mapping[str, Any]) -> None:
    """Write the manifest once; a racing writer's copy must describe the same artifact."""
    data = manifest_bytes(manifest)
    try:
        store.put_bytes(name, data, overwrite=False)
        verify_object(store, name, sha256_hex=hashlib.sha256(data).hexdigest(), size=len(data))
    except ObjectExistsError:
        existing = read_manifest(store, name)
        if existing is None or existing.get("sha256") != manifest.get("sha256"):
            raise ChecksumMismatchError(
                f"{name}: an existing manifest describes different content "
                f"({None if existing is None else existing.get('sha256')}): delete it and rebuild"
            ) from None


def read_manifest(store: Store, name: str) -> dict[str, Any] | None:
    """A manifest as a JSON object, None when absent; anything else names the fix."""
    stored = store.get(name)
    if stored is None:
        return None
    try:
        loaded = json.loads(stored.data)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise BadInputError(
            f"{where(store, name)}: manifest is not valid JSON ({err}): delete it and the zip "
            "beside it, then rebuild"
        ) from None
    if not isinstance(loaded, dict):
        raise BadInputError(
            f"{where(store, name)}: manifest is not a JSON object: delete it and the zip "
            "beside it, then rebuild"
        )
    return loaded
