"""The artifact store: S3 or a local directory, with one key layout.

This package is the one place that knows S3 from a directory and adds the key prefix:
steps name objects relative to the store root (`artifacts.py`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from environments import REPO_ROOT
from scripts.errors import BadInputError
from scripts.store.base import ObjectInfo, Store, Stored, hex_to_b64, sha256_file
from scripts.store.local import LocalStore
from scripts.store.s3 import S3Store

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from environments import Environment

__all__ = [
    "LOCAL_STORE_DIR",
    "LocalStore",
    "ObjectInfo",
    "S3Store",
    "Store",
    "Stored",
    "hex_to_b64",
    "local_env_store",
    "open_store",
    "sha256_file",
    "store_for",
]


def open_store(spec: str, *, s3_client_factory: _S3Factory) -> Store:
    """`s3://bucket[/prefix]` or a local directory; the client is made only for S3."""
    if spec.startswith("s3://"):
        bucket, _, prefix = spec[len("s3://") :].partition("/")
        if not bucket:
            raise BadInputError(f"--store {spec!r}: missing bucket name; use s3://BUCKET/PREFIX")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        return S3Store(s3_client_factory(), bucket, prefix)
    if "://" in spec:
        raise BadInputError(f"--store {spec!r}: use s3://BUCKET/PREFIX or a local directory")
    return LocalStore(Path(spec))


class _S3Factory(Protocol):
    def __call__(self) -> S3Client: ...


# The embedded default for runs without AWS (`make demo`): `.local-store/BUCKET/PREFIX`
# at the repository root mirrors `s3://BUCKET/PREFIX`, so a file's path there reads like
# its S3 key and several environments never share a directory.
LOCAL_STORE_DIR = ".local-store"


def local_env_store(env: Environment, base: Path | None = None) -> LocalStore:
    root = (base or REPO_ROOT / LOCAL_STORE_DIR) / env.artifact_bucket / env.key_prefix
    return LocalStore(root)


def check_writable(store: Store) -> None:
    """A store must take writes before anything is built or released for it."""
    if isinstance(store, LocalStore | S3Store):
        store.check_writable()


def store_for(env: Environment, spec: str | None, *, s3_client_factory: _S3Factory) -> Store:
    """`--store` when given, else the environment's bucket under its key prefix."""
    if spec:
        return open_store(spec, s3_client_factory=s3_client_factory)
    return S3Store(s3_client_factory(), env.artifact_bucket, env.key_prefix)
