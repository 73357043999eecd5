"""`build-backend`: the function package, app code only, content-addressed.

All four functions run the same package with different handlers, so one zip of `app/`,
`lambdas/` and `VERSION` serves them all. Its name carries the first 16 hex characters of
its own sha256: the zip is byte-identical for identical sources, so deploy can recompute
the name from the source tree without the build directory.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path, PurePath
from typing import Any

from environments import Environment, get_environment
from scripts import progress
from scripts.clients import s3_client
from scripts.errors import BadInputError
from scripts.publish import object_key, put_content_addressed, put_latest, put_manifest
from scripts.store import Store, hex_to_b64, store_for
from scripts.zipping import ZipResult, collect_files, write_zip

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


def package_name(content_hash: str) -> str:
    return f"backend-{content_hash}.zip"


def manifest_name(content_hash: str) -> str:
    return f"backend-{content_hash}.json"


LATEST_NAME = "backend.zip"


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
    final = built.path.with_name(package_name(content_hash))
    built.path.replace(final)
    version = (backend_dir / VERSION_FILE).read_text(encoding="utf-8").strip()
    name = package_name(content_hash)
    with progress.step(f"upload {name}"):
        created = put_content_addressed(store, name, final, sha256_hex=built.sha256)
    if not created:
        progress.say(f"  {name} already in the store with the same checksum: kept")
    with progress.step(f"upload {LATEST_NAME}"):
        put_latest(store, LATEST_NAME, final, sha256_hex=built.sha256)
    key = object_key(store, name, key_prefix)
    latest_key = object_key(store, LATEST_NAME, key_prefix)
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
    put_manifest(store, manifest_name(content_hash), manifest)
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


def with_backend_dir(env: Environment, backend_dir: str | None) -> Environment:
    """`--backend-dir`: another backend (its own lock and requirements) for this environment."""
    if not backend_dir:
        return env
    root = Path(backend_dir).resolve()
    if not root.is_dir():
        raise BadInputError(f"--backend-dir {backend_dir}: not a directory")
    return replace(
        env,
        backend_dir=root,
        lock_file=root / "poetry.lock",
        requirements_file=root / "requirements.txt",
    )


def add_backend_dir_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--backend-dir",
        help="backend directory with app/, lambdas/, VERSION, poetry.lock, requirements.txt "
        "(default: the environment's)",
    )


def run(args: argparse.Namespace) -> Mapping[str, Any]:
    env = with_backend_dir(get_environment(args.env), args.backend_dir)
    store = store_for(env, args.store, s3_client_factory=lambda: s3_client(env))
    progress.say(f"build-backend {env.name}: {env.backend_dir} -> {store.location}")
    result = build_backend(
        backend_dir=env.backend_dir,
        store=store,
        build_dir=Path(args.build_dir),
        key_prefix="",
    )
    progress.say(
        f"backend {result.hash}: {result.zip_bytes:,} bytes zipped, "
        f"{result.unzipped_bytes:,} unzipped, VERSION {result.version}"
    )
    return result.as_json()


def register(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "build-backend", help="zip the function package and upload it content-addressed"
    )
    parser.add_argument("--env", required=True, help="environment name (environments.py)")
    parser.add_argument("--store", help="s3://BUCKET/PREFIX or a local directory")
    parser.add_argument("--build-dir", default="build", help="local output directory")
    add_backend_dir_argument(parser)
    parser.set_defaults(handler=run)
    return parser
