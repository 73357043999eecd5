"""The layer's store side: a cache hit checked against its manifest, and a build published.

The manifest (`layer-HASH.json`) is written last: it is the commit mark that makes a
stored zip a cache hit, and deploy checks Lambda's `CodeSha256` against it. `layer.zip`,
the key Terraform's first layer version reads, is moved only by builds for the
environment's own runtime and architecture (`update_latest`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import artifacts
from scripts import progress
from scripts.errors import BadInputError, ChecksumMismatchError
from scripts.store import Store, sha256_file
from scripts.store.publish import (
    manifest_bytes,
    put_content_addressed,
    put_latest,
    put_manifest,
    where,
)

# Fields every layer manifest carries (deploy reads them); an older or hand-edited
# manifest without them cannot vouch for its zip.
REQUIRED_FIELDS = ("hash", "sha256", "code_sha256", "zip_bytes", "unzipped_bytes")


@dataclass(frozen=True, kw_only=True)
class Latest:
    """Whether this build may move `layer.zip`, and why not when it may not."""

    update: bool = True
    reason: str = ""


def check_manifest(store: Store, name: str, manifest: Mapping[str, Any]) -> None:
    missing = [key for key in REQUIRED_FIELDS if key not in manifest]
    if missing:
        raise BadInputError(
            f"{where(store, name)}: manifest lacks {', '.join(missing)}: delete it and the "
            "zip beside it, then rebuild"
        )


def write_local_manifest(path: Path, manifest: Mapping[str, Any]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(manifest_bytes(manifest))
        tmp.replace(path)
    except OSError as err:
        raise BadInputError(
            f"--manifest {path}: cannot write ({err.strerror}): choose a writable path"
        ) from None


def point_latest_at_hit(
    store: Store,
    *,
    layer_hash: str,
    manifest: Mapping[str, Any],
    code_sha256: str | None,
    build_dir: Path,
    latest: Latest,
) -> bool:
    """Check a stored layer against its manifest; move `layer.zip` to it when allowed."""
    zip_name = artifacts.layer_zip(layer_hash)
    check_manifest(store, artifacts.layer_manifest(layer_hash), manifest)
    if code_sha256 != manifest.get("code_sha256"):
        raise ChecksumMismatchError(
            f"{where(store, zip_name)}: stored checksum {code_sha256} differs from its manifest "
            f"{manifest.get('code_sha256')}: delete {zip_name} and "
            f"{artifacts.layer_manifest(layer_hash)} from the store and rebuild"
        )
    if not latest.update:
        return False
    current = store.head(artifacts.LAYER_LATEST)
    if current is not None and current.sha256_b64 == code_sha256:
        return False
    # layer.zip is "the newest build" for Terraform: point it back at this one.
    build_dir.mkdir(parents=True, exist_ok=True)
    local = build_dir / zip_name
    with progress.step(f"copy {zip_name} to {artifacts.LAYER_LATEST}"):
        store.download(zip_name, local)
        sha = sha256_file(local)
        if sha != manifest.get("sha256"):
            raise ChecksumMismatchError(
                f"{where(store, zip_name)}: downloaded sha256 {sha} differs from its manifest: "
                "delete it and rebuild"
            )
        return put_latest(store, artifacts.LAYER_LATEST, local, sha256_hex=sha)


def publish_layer(
    store: Store, *, zip_path: Path, manifest: Mapping[str, Any], latest: Latest
) -> bool:
    """Upload `layer-HASH.zip` (never overwriting), `layer.zip` when allowed, then the manifest.

    Returns whether `layer.zip` was updated.
    """
    layer_hash = str(manifest["hash"])
    zip_name = artifacts.layer_zip(layer_hash)
    sha = str(manifest["sha256"])
    with progress.step(f"upload {zip_name}"):
        created = put_content_addressed(store, zip_name, zip_path, sha256_hex=sha)
    if not created:
        progress.say(f"  {zip_name} was written by another build with the same checksum: kept")
    updated = False
    if latest.update:
        with progress.step(f"upload {artifacts.LAYER_LATEST}"):
            updated = put_latest(store, artifacts.LAYER_LATEST, zip_path, sha256_hex=sha)
    put_manifest(store, artifacts.layer_manifest(layer_hash), manifest)
    return updated


def report_hit(manifest: Mapping[str, Any], zip_name: str) -> None:
    progress.say(f"  cache hit: {zip_name} is in the store, nothing to build")
    if manifest.get("allow_unhashed"):
        unhashed = ", ".join(manifest.get("unhashed", [])[:6])
        progress.say(f"  warning: this layer was built WITHOUT hash checking ({unhashed})")
