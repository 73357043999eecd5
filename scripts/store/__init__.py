"""The artifact store: S3 or a local directory, with one key layout.

This is the one module that knows S3 from a directory. Build and deploy steps speak in
names relative to the store root (`layer-HASH.zip`, `backend.zip`, `deployments/...`),
so the same step runs against the embedded local default and a real bucket.

Writes carry a SHA-256 checksum and can be made conditional (never overwrite), because
two CI runs building the same lock hash race for the same content-addressed key.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from environments import REPO_ROOT
from scripts.clients import client_error
from scripts.errors import BadInputError, ObjectExistsError, StoreAccessError, ToolError

if TYPE_CHECKING:
    from botocore.exceptions import ClientError
    from mypy_boto3_s3 import S3Client

    from environments import Environment

_CHUNK = 1024 * 1024


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, streamed: layers are tens of MB."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
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


class Store(Protocol):
    """What build and deploy steps may do with artifacts, wherever they live."""

    @property
    def location(self) -> str: ...

    def head(self, name: str) -> ObjectInfo | None: ...

    def read_bytes(self, name: str) -> bytes: ...

    def download(self, name: str, dest: Path) -> None: ...

    def put_file(self, name: str, path: Path, *, sha256_hex: str, overwrite: bool) -> None: ...

    def put_bytes(self, name: str, data: bytes, *, overwrite: bool) -> None: ...

    def list(self, prefix: str) -> list[ObjectInfo]: ...

    def s3_location(self, name: str) -> tuple[str, str] | None:
        """(bucket, key) Lambda can read the object from; None for a local store."""
        ...


def _join(prefix: str, name: str) -> str:
    return f"{prefix}{name}" if prefix else name


@dataclass(frozen=True)
class S3Store:
    client: S3Client
    bucket: str
    prefix: str = ""

    @property
    def location(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def _key(self, name: str) -> str:
        return _join(self.prefix, name)

    def _error(self, err: ClientError, name: str, action: str) -> ToolError:
        code = str(err.response.get("Error", {}).get("Code", ""))
        status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        where = f"s3://{self.bucket}/{self._key(name)}"
        if status == 403 or code in {"AccessDenied", "403", "Forbidden"}:
            return StoreAccessError(
                f"{where}: access denied on {action} (403): grant the deployer role "
                f"s3:{action} on this key (and s3:ListBucket on the bucket)"
            )
        if code in {"NoSuchBucket"}:
            return BadInputError(
                f"s3://{self.bucket}: bucket does not exist: create it or pass --store"
            )
        return ToolError(f"{where}: {action} failed: {code or status}: {err}")

    def head(self, name: str) -> ObjectInfo | None:
        try:
            response = self.client.head_object(
                Bucket=self.bucket, Key=self._key(name), ChecksumMode="ENABLED"
            )
        except client_error() as err:
            status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            code = str(err.response.get("Error", {}).get("Code", ""))
            # HEAD has no body, so a missing key shows only as a 404 status.
            if status == 404 or code in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise self._error(err, name, "GetObject") from err
        return ObjectInfo(
            name=name,
            size=int(response["ContentLength"]),
            sha256_b64=response.get("ChecksumSHA256"),
        )

    def read_bytes(self, name: str) -> bytes:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(name))
        except client_error() as err:
            raise self._error(err, name, "GetObject") from err
        return response["Body"].read()

    def download(self, name: str, dest: Path) -> None:
        try:
            self.client.download_file(self.bucket, self._key(name), str(dest))
        except client_error() as err:
            raise self._error(err, name, "GetObject") from err

    def _put(self, name: str, body: bytes | Path, sha256_hex: str, overwrite: bool) -> None:
        checksum = hex_to_b64(sha256_hex)
        try:
            with contextlib.ExitStack() as stack:
                payload = stack.enter_context(body.open("rb")) if isinstance(body, Path) else body
                if overwrite:
                    self.client.put_object(
                        Bucket=self.bucket,
                        Key=self._key(name),
                        Body=payload,
                        ChecksumSHA256=checksum,
                        # Names the algorithm too: stores that key the checksum on it (moto)
                        # then report it back on a ChecksumMode=ENABLED head.
                        ChecksumAlgorithm="SHA256",
                    )
                else:
                    # S3 conditional write: fails with 412 when the key exists, atomically.
                    self.client.put_object(
                        Bucket=self.bucket,
                        Key=self._key(name),
                        Body=payload,
                        ChecksumSHA256=checksum,
                        # Names the algorithm too: stores that key the checksum on it (moto)
                        # then report it back on a ChecksumMode=ENABLED head.
                        ChecksumAlgorithm="SHA256",
                        IfNoneMatch="*",
                    )
        except client_error() as err:
            code = str(err.response.get("Error", {}).get("Code", ""))
            status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status in {409, 412} or code in {"PreconditionFailed", "ConditionalRequestConflict"}:
                raise ObjectExistsError(
                    f"s3://{self.bucket}/{self._key(name)} already exists"
                ) from err
            raise self._error(err, name, "PutObject") from err

    def put_file(self, name: str, path: Path, *, sha256_hex: str, overwrite: bool) -> None:
        self._put(name, path, sha256_hex, overwrite)

    def put_bytes(self, name: str, data: bytes, *, overwrite: bool) -> None:
        self._put(name, data, hashlib.sha256(data).hexdigest(), overwrite)

    def list(self, prefix: str) -> list[ObjectInfo]:
        found: list[ObjectInfo] = []
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self._key(prefix)):
                for item in page.get("Contents", []):
                    found.append(
                        ObjectInfo(
                            name=item["Key"][len(self.prefix) :],
                            size=int(item["Size"]),
                            sha256_b64=None,
                        )
                    )
        except client_error() as err:
            raise self._error(err, prefix, "ListBucket") from err
        return found

    def s3_location(self, name: str) -> tuple[str, str] | None:
        return (self.bucket, self._key(name))


@dataclass(frozen=True)
class LocalStore:
    """A directory laid out like the bucket: the embedded default, no AWS account needed.

    Like S3, it reports the SHA-256 computed over the bytes when they were written rather
    than re-reading the object: `head` on a 25 MB layer would otherwise hash it (~0.1 s)
    on every cache hit. See `_recorded_or_computed_sha256` for why that is still sound.
    """

    root: Path

    @property
    def location(self) -> str:
        return str(self.root)

    def _path(self, name: str) -> Path:
        path = (self.root / name).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise BadInputError(f"{name!r}: artifact names must stay inside the store")
        return path

    def head(self, name: str) -> ObjectInfo | None:
        path = self._path(name)
        if not path.is_file():
            return None
        size, sha256_hex = _recorded_or_computed_sha256(path)
        return ObjectInfo(name=name, size=size, sha256_b64=hex_to_b64(sha256_hex))

    def read_bytes(self, name: str) -> bytes:
        path = self._path(name)
        if not path.is_file():
            raise ToolError(f"{path}: not found in the local store")
        return path.read_bytes()

    def download(self, name: str, dest: Path) -> None:
        dest.write_bytes(self.read_bytes(name))

    def unusable(self, err: OSError) -> BadInputError:
        """A store directory we cannot write: one line naming it and the fix."""
        if self.root.exists() and not self.root.is_dir():
            return BadInputError(
                f"--store {self.root} is a file, not a directory: pass a directory (or "
                "s3://BUCKET/PREFIX)"
            )
        return BadInputError(
            f"--store {self.root}: cannot write there ({err.strerror or err}): pass a writable "
            "directory or fix its permissions"
        )

    def check_writable(self) -> None:
        """Fail before a build, not after it, when the store cannot take its output."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd, probe = tempfile.mkstemp(dir=self.root, prefix=".write-probe-")
            os.close(fd)
            Path(probe).unlink()
        except OSError as err:
            raise self.unusable(err) from None

    def _write(self, name: str, write: _Writer, overwrite: bool) -> None:
        target = self._path(name)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise self.unusable(err) from None
        # Write beside the target, then publish atomically: a reader never sees half a zip.
        try:
            fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        except OSError as err:
            raise self.unusable(err) from None
        tmp = Path(tmp_name)
        digest = hashlib.sha256()
        try:
            with os.fdopen(fd, "wb") as handle:
                write(_HashingHandle(handle, digest))
                handle.flush()
                tmp.chmod(0o644)
                if overwrite:
                    tmp.replace(target)
                else:
                    # link() fails if the target exists: the same atomic no-overwrite as S3's.
                    try:
                        os.link(tmp, target)
                    except FileExistsError:
                        raise ObjectExistsError(f"{target} already exists") from None
                    tmp.unlink()
                # Our own file's state after the last change we make to it, whatever a
                # racing writer has since put at `target`.
                written = os.fstat(handle.fileno())
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        _record_sha256(target, written, digest.hexdigest())

    def put_file(self, name: str, path: Path, *, sha256_hex: str, overwrite: bool) -> None:
        def write(handle: _Handle) -> None:
            with path.open("rb") as source:
                for chunk in iter(lambda: source.read(_CHUNK), b""):
                    handle.write(chunk)

        self._write(name, write, overwrite)

    def put_bytes(self, name: str, data: bytes, *, overwrite: bool) -> None:
        def write(handle: _Handle) -> None:
            handle.write(data)

        self._write(name, write, overwrite)

    def list(self, prefix: str) -> list[ObjectInfo]:
        found: list[ObjectInfo] = []
        if not self.root.is_dir():
            return found
        for path in sorted(self._iter_files()):
            name = path.relative_to(self.root).as_posix()
            if name.startswith(prefix):
                found.append(ObjectInfo(name=name, size=path.stat().st_size, sha256_b64=None))
        return found

    def _iter_files(self) -> Iterator[Path]:
        for path in self.root.rglob("*"):
            if path.is_file() and not path.name.startswith("."):
                yield path

    def s3_location(self, name: str) -> tuple[str, str] | None:
        return None


class _Handle(Protocol):
    def write(self, data: bytes, /) -> int: ...


@dataclass(frozen=True)
class _HashingHandle:
    """Hashes exactly the bytes that go into the stored file."""

    handle: _Handle
    digest: hashlib._Hash

    def write(self, data: bytes, /) -> int:
        self.digest.update(data)
        return self.handle.write(data)


def _record_path(path: Path) -> Path:
    # A dotfile beside the object: `list` skips dotfiles, as it skips half-written temps.
    return path.with_name(f".{path.name}.sha256")


def _stat_key(info: os.stat_result) -> list[int]:
    """What identifies one version of a file: a replaced file has another inode, and any
    change to its bytes or metadata moves its ctime, which no user call can set back."""
    return [info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns]


def _record_sha256(path: Path, written: os.stat_result, sha256_hex: str) -> None:
    """Best effort: without a record `head` hashes the file, which is only slower."""
    record = _record_path(path)
    data = json.dumps({"stat": _stat_key(written), "sha256": sha256_hex}).encode("ascii")
    tmp: Path | None = None
    try:
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f"{record.name}.")
        tmp = Path(tmp_name)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        tmp.chmod(0o644)
        tmp.replace(record)
    except OSError:
        if tmp is not None:
            tmp.unlink(missing_ok=True)


def _recorded_or_computed_sha256(path: Path) -> tuple[int, str]:
    """(size, hex SHA-256) of `path`: the digest recorded when we wrote it, if the file is
    still exactly that version, else hashed now.

    Sound because the record is keyed on the written file's identity (`_stat_key`, taken
    from our own descriptor after our last change to it): a file replaced by another
    writer (ours or not) or edited in place no longer matches, and is hashed. A file with
    no record (an older store, a copied directory) is hashed too. The one gap is git's
    "racy" one: on a kernel with coarse timestamps, an in-place edit that keeps the size
    within the same clock tick as our write. Content-addressed objects are never edited in
    place, and whoever can edit the zip can edit its manifest, which no check here stops.
    """
    with path.open("rb") as handle:
        info = os.fstat(handle.fileno())
        try:
            record = json.loads(_record_path(path).read_bytes())
            if record["stat"] == _stat_key(info) and isinstance(record["sha256"], str):
                return info.st_size, record["sha256"]
        except (OSError, ValueError, KeyError, TypeError):
            pass  # no usable record: hash the bytes
        digest = hashlib.sha256()
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return info.st_size, digest.hexdigest()


class _Writer(Protocol):
    def __call__(self, handle: _Handle, /) -> None: ...


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
    """A local store must take writes before anything is built for it (S3: at upload)."""
    if isinstance(store, LocalStore):
        store.check_writable()


def store_for(env: Environment, spec: str | None, *, s3_client_factory: _S3Factory) -> Store:
    """`--store` when given, else the environment's bucket under its key prefix."""
    if spec:
        return open_store(spec, s3_client_factory=s3_client_factory)
    return S3Store(s3_client_factory(), env.artifact_bucket, env.key_prefix)
