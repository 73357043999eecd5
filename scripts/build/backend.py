"""`build-backend`: the function package, app code only, content-addressed.

All functions run the same package with different handlers, so one zip serves them all.
What it holds is configured (environments/packaging.py: include roots, exclude globs,
generated files); every handler is checked to exist in it. Its name carries the first 16
hex characters of its own sha256: the zip is byte-identical for identical sources,
version and commit, so deploy can recompute the name without the build directory.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import artifacts
from environments.packaging import PackageSpec
from scripts import progress
from scripts.build.handlers import HasHandler, check_handlers
from scripts.build.package_files import VERSION_INFO, Stamp, package_entries
from scripts.build.version import Version, git_commit, git_commit_time, resolve_version
from scripts.build.zipping import ZipResult, write_zip
from scripts.errors import BadInputError
from scripts.store import Store, check_writable, hex_to_b64
from scripts.store.publish import object_key, put_content_addressed, put_latest, put_manifest

HASH_LENGTH = 16


@dataclass(frozen=True, kw_only=True)
class PackageSource:
    """Everything the package's bytes depend on, resolved before anything is built."""

    backend_dir: Path
    spec: PackageSpec
    version: Version
    # Only read when version_info.json is generated: otherwise commits do not matter.
    git_commit: str | None
    commit_time: str | None = None
    # Only when version_info.json carries it: then the package is per environment.
    environment: str | None = None

    @classmethod
    def resolve(
        cls,
        backend_dir: Path,
        spec: PackageSpec,
        *,
        version: str | None = None,
        environment: str | None = None,
    ) -> PackageSource:
        info = VERSION_INFO in spec.generated
        fields = spec.version_info_fields if info else {}
        return cls(
            backend_dir=backend_dir,
            spec=spec,
            version=resolve_version(backend_dir, version),
            git_commit=git_commit(backend_dir) if info else None,
            commit_time=git_commit_time(backend_dir) if "deployed_at" in fields else None,
            environment=environment if "environment" in fields else None,
        )

    @property
    def stamp(self) -> Stamp:
        return Stamp(
            version=self.version.value,
            git_commit=self.git_commit,
            commit_time=self.commit_time,
            environment=self.environment,
        )


def zip_package(source: PackageSource, dest: Path) -> tuple[ZipResult, list[tuple[str, Path]]]:
    """The package zip at `dest`, and its entries (generated files staged beside it)."""
    entries = package_entries(
        source.backend_dir,
        source.spec,
        stamp=source.stamp,
        scratch=dest.parent / f".{dest.name}.generated",
    )
    check_unzipped_size(entries, source.spec)
    return write_zip(entries, dest), entries


def check_unzipped_size(entries: Sequence[tuple[str, Path]], spec: PackageSpec) -> None:
    """The unzipped budget from the files' sizes, before anything is read or compressed: a
    300 MB file used to be zipped (8 s, 945 MB of memory) before the budget refused it."""
    total = sum(source.stat().st_size for _, source in entries)
    if total > spec.max_unzipped_bytes:
        over = f"{total:,} bytes unzipped (limit {spec.max_unzipped_bytes:,})"
        raise BadInputError(_too_big(over, entries))


def _too_big(over: str, entries: Sequence[tuple[str, Path]]) -> str:
    biggest = sorted(entries, key=lambda item: (-item[1].stat().st_size, item[0]))[:10]
    listing = ", ".join(f"{name} ({source.stat().st_size:,} B)" for name, source in biggest)
    return (
        f"function package is {over}: move data or dependencies out of the "
        f"package (or exclude them: backend.package.exclude); largest files: {listing}"
    )


def package_hash(source: PackageSource) -> str:
    """`HASH` in `backend-HASH.zip`, recomputed from source (zips into a temp dir)."""
    with tempfile.TemporaryDirectory(prefix="backend-hash-") as tmp:
        built, _ = zip_package(source, Path(tmp) / "backend.zip")
        return built.sha256[:HASH_LENGTH]


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
    version_source: str
    git_commit: str | None
    files: int
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
            "version_source": self.version_source,
            "git_commit": self.git_commit,
            "files": self.files,
            "store": self.store,
            "path": self.path,
        }


def check_package_size(
    entries: Sequence[tuple[str, Path]], built: ZipResult, spec: PackageSpec
) -> None:
    """Both budgets: zipped (the design's 1 MB) and unzipped (no data or vendored deps)."""
    over = []
    if built.zip_bytes > spec.max_zip_bytes:
        over.append(f"{built.zip_bytes:,} bytes zipped (limit {spec.max_zip_bytes:,})")
    if built.unzipped_bytes > spec.max_unzipped_bytes:
        over.append(f"{built.unzipped_bytes:,} bytes unzipped (limit {spec.max_unzipped_bytes:,})")
    if over:
        raise BadInputError(_too_big(" and ".join(over), entries))


def build_backend(
    *,
    source: PackageSource,
    store: Store,
    build_dir: Path,
    functions: Sequence[HasHandler] = (),
    key_prefix: str = "",
) -> BackendResult:
    """Zip, check handlers and budgets, upload `backend-HASH.zip` and `backend.zip`, verified."""
    check_writable(store)
    build_dir.mkdir(parents=True, exist_ok=True)
    with progress.step(f"zip {', '.join(source.spec.include)}"):
        built, entries = zip_package(source, build_dir / "backend.zip")
    check_handlers(functions, entries)
    check_package_size(entries, built, source.spec)
    progress.say(
        f"  {len(entries)} files: {built.zip_bytes:,} bytes zipped "
        f"(limit {source.spec.max_zip_bytes:,}), {built.unzipped_bytes:,} unzipped "
        f"(limit {source.spec.max_unzipped_bytes:,}); version {source.version.value} "
        f"from {source.version.source}"
    )
    content_hash = built.sha256[:HASH_LENGTH]
    name = artifacts.package_zip(content_hash)
    final = built.path.with_name(name)
    built.path.replace(final)
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
        "version": source.version.value,
        "git_commit": source.git_commit,
        "files": len(entries),
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
        version=source.version.value,
        version_source=source.version.source,
        git_commit=source.git_commit,
        files=len(entries),
        store=store.location,
        path=str(final),
    )
