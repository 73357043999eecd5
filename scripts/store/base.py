"""What every store offers: the `Store` protocol, object metadata, and the two hashes.

Build and deploy steps speak in names relative to the store root (`layer-HASH.zip`,
`backend.zip`, `deployments/...`), so the same step runs against the embedded local
default and a real bucket. Writes carry a SHA-256 checksum and can be conditional: never
overwrite (two CI runs race for one content-addressed key), or only over the version we
read (the deploy lock and the release records, by ETag).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

CHUNK = 1024 * 1024


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, streamed: layers are tens of MB."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def hex_to_b64(hex_digest: str) -> str:
    """The base64 form S3 checksums and Lambda's `CodeSha256` use."""
    return base64.b64encode(bytes.fromhex(hex_digest)).decode("ascii")


@dataclass(frozen=True, kw_only=True)
class ObjectInfo:
    name: str
    size: int
    # Base64 SHA-256 as S3 reports it; None when the object was stored without one.
    sha256_b64: str | None


@dataclass(frozen=True, kw_only=True)
class Stored:
    """An object's bytes with the ETag a conditional write or delete must name.

    `modified` is when the object was last written and `now` when it was read, both by
    the store's own clock (S3: LastModified and the response's Date header; a directory:
    the file's mtime and this host's clock). Their difference is the object's age, which
    a lease is measured by: a caller whose clock runs ahead cannot make a live lock look
    old. None where the store does not say.
    """

    data: bytes
    etag: str
    modified: float | None = None
    now: float | None = None

    @property
    def age(self) -> float | None:
        """Seconds since the last write, by the store's clock (None when unknown)."""
        if self.modified is None or self.now is None:
            return None
        return max(0.0, self.now - self.modified)


class Store(Protocol):
    """What build and deploy steps may do with artifacts, wherever they live."""

    @property
    def location(self) -> str: ...

    def head(self, name: str) -> ObjectInfo | None: ...

    def read_bytes(self, name: str) -> bytes: ...

    def get(self, name: str) -> Stored | None:
        """The object and its ETag, or None when it does not exist."""
        ...

    def download(self, name: str, dest: Path) -> None: ...

    def put_file(self, name: str, path: Path, *, sha256_hex: str, overwrite: bool) -> None: ...

    def put_bytes(
        self, name: str, data: bytes, *, overwrite: bool, if_match: str | None = None
    ) -> str:
        """Write and return the new ETag. `overwrite=False`: only if absent
        (ObjectExistsError); `if_match`: only over that version (ConditionFailedError)."""
        ...

    def delete(self, name: str, *, if_match: str | None = None) -> None:
        """Remove the object; with `if_match`, only that version (ConditionFailedError)."""
        ...

    def list(self, prefix: str) -> list[ObjectInfo]: ...

    def s3_location(self, name: str) -> tuple[str, str] | None:
        """(bucket, key) Lambda can read the object from; None for a local store."""
        ...
