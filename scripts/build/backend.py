"""`build-backend`: the function package, app code only, content-addressed.

All four functions run the same package with different handlers, so one zip of `app/`,
`lambdas/` and `VERSION` serves them all. Its name carries the first 16 hex characters of
its own sha256: the zip is byte-identical for identical sources, so deploy can recompute
the name from the source tree without the build directory.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

import artifacts
from scripts import progress
from scripts.build.zipping import ZipResult, collect_files, write_zip
from scripts.errors import BadInputError
from scripts.store import Store, hex_to_b64
from scripts.store.publish import object_key, put_content_addressed, put_latest, put_manifest

# The design's promise: code-only packages under 1 MB.
MAX_PACKAGE_BYTES = 1024 * 1024
PACKAGE_DIRS = ("app", "lambdas")
VERSION_FILE = "VERSION"
HASH_LENGTH = 16


def _skip(relative: PurePath) -> bool:
    return (
        relative.name == "__pycache__"
        or relative.suffix in {".pyc", ".pyo"}
        or relative.name in {".DS_Store"}
    )


def backend_files(backend_dir: Path) -> list[tuple[str, Path]]:
    """(archive name, source) of everything the package holds, sorted."""
    missing = [name for name in (*PACKAGE_DIRS, VERSION_FILE) if not (backend_dir / name).exists()]
    if missing:
        raise BadInputError(
            f"{backend_dir}: missing {', '.join(missing)}: the backend needs app/, lambdas/ "
            "and VERSION"
        )
    files: list[tuple[str, Path]] = [(VERSION_FILE, backend_dir / VERSION_FILE)]
    for directory in PACKAGE_DIRS:
        files.extend(collect_files(backend_dir / directory, prefix=f"{directory}/", skip=_skip))
    return sorted(files)


def backend_unzipped_bytes(backend_dir: Path) -> int:
    return sum(source.stat().st_size for _, source in backend_files(backend_dir))


def build_backend_zip(backend_dir: Path, dest: Path) -> ZipResult:
    return write_zip(backend_files(backend_dir), dest)


def backend_hash(backend_dir: Path) -> str:
    """`HASH` in `backend-HASH.zip`, recomputed from source (zips into a temp dir)."""
    with tempfile.TemporaryDirectory(prefix="backend-hash-") as tmp:
        return build_backend_zip(backend_dir, Path(tmp) / "backend.zip").sha256[:HASH_LENGTH]


@dataclass(frozen=True, kw_only=True)
class BackendResult:
    hash: str
    key: str
    latest_key: str
    sha256: str
    code_sha256: str
    zip_bytes: int
    unzipped_bytes: int
    uploaded: bool
    version: str
    store: str
    path: str

    def as_json(self) -> Mapping[str, Any]:
        return {
            "hash": self.hash,
            "key": self.key,
            "latest_key": self.latest_key,
            "sha256": self.sha256,
            "code_sha256": self.code_sha256,
            "zip_bytes": self.zip_bytes,
            "unzipped_bytes": self.unzipped_bytes,
            "uploaded": self.uploaded,
            "version": self.version,
            "store": self.store,
            "path": self.path,
        }


def check_package_size(files: list[tuple[str, Path]], zip_bytes: int, limit: int) -> None:
    if zip_bytes <= limit:
        return
    biggest = sorted(files, key=lambda item: (-item[1].stat().st_size, item[0]))[:10]
    listing = ", ".join(f"{name} ({source.stat().st_size:,} B)" for name, source in biggest)
    raise BadInputError(
        f"function package is {zip_bytes:,} bytes zipped, over the {limit:,}-byte limit: "
        f"move data or dependencies out of app/ and lambdas/; largest files: {listing}"
    )


def build_backend(
    *,
    backend_dir: Path,
    store: Store,
    build_dir: Path,
    key_prefix: str = "",
    limit: int = MAX_PACKAGE_BYTES,
) -> BackendResult:
    """Zip, check the budget, upload `backend-HASH.zip` and `backend.zip`, verified."""
    with progress.step("zip app/, lambdas/, VERSION"):
        files = backend_files(backend_dir)
        built = write_zip(files, build_dir / "backend.zip")
    check_package_size(files, built.zip_bytes, limit)
    content_hash = built.sha256[:HASH_LENGTH]
    final = built.path.with_name(artifacts.package_zip(content_hash))
    built.path.replace(final)
    version = (backend_dir / VERSION_FILE).read_text(encoding="utf-8").strip()
    name = artifacts.package_zip(content_hash)
    with progress.step(f"upload {name}"):
        created = put_content_addressed(store, name, final, sha256_hex=built.sha256)
    if not created:
        progress.say(f"  {name} already in the store with the same checksum: kept")
    with progress.step(f"upload {artifacts.PACKAGE_LATEST}"):
        put_latest(store, artifacts.PACKAGE_LATEST, final, sha256_hex=built.sha256)
    key = object_key(store, name, key_prefix)
    latest_key = object_key(store, artifacts.PACKAGE_LATEST, key_prefix)
    manifest = {
        "hash": content_hash,
        "key": key,
        "latest_key": latest_key,
        "sha256": built.sha256,
        "code_sha256": hex_to_b64(built.sha256),
        "zip_bytes": built.zip_bytes,
        "unzipped_bytes": built.unzipped_bytes,
        "version": version,
    }
    put_manifest(store, artifacts.package_manifest(content_hash), manifest)
    return BackendResult(
        hash=content_hash,
        key=key,
        latest_key=latest_key,
        sha256=built.sha256,
        code_sha256=hex_to_b64(built.sha256),
        zip_bytes=built.zip_bytes,
        unzipped_bytes=built.unzipped_bytes,
        uploaded=created,
        version=version,
        store=store.location,
        path=str(final),
    )
