"""The store as a local directory laid out like the bucket: the embedded default.

`make demo` runs against it with no AWS account. Conditional writes behave like S3's:
never-overwrite is an atomic `link()`, and writes or deletes that must find the version
they read take an exclusive `flock` on a sidecar file while they check and replace.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from scripts.errors import BadInputError, ConditionFailedError, ObjectExistsError, ToolError
from scripts.store.base import CHUNK, ObjectInfo, Stored, hex_to_b64


def _etag(data: bytes) -> str:
    """What identifies one version of a local object (S3 uses its own ETag)."""
    return hashlib.sha256(data).hexdigest()


@contextlib.contextmanager
def _object_lock(path: Path) -> Iterator[None]:
    lock_path = path.with_name(f".{path.name}.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


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

    def get(self, name: str) -> Stored | None:
        path = self._path(name)
        try:
            with path.open("rb") as handle:
                data = handle.read()
                modified = os.fstat(handle.fileno()).st_mtime
        except FileNotFoundError:
            return None
        # The directory's clock is this host's (the kernel stamps mtime from it): not a
        # caller's injected or skewed clock.
        return Stored(data=data, etag=_etag(data), modified=modified, now=time.time())

    def delete(self, name: str, *, if_match: str | None = None) -> None:
        path = self._path(name)
        with _object_lock(path):
            if if_match is not None:
                self._check_version(path, if_match)
            path.unlink(missing_ok=True)
            _record_path(path).unlink(missing_ok=True)

    def _check_version(self, path: Path, etag: str) -> None:
        try:
            current = _etag(path.read_bytes())
        except FileNotFoundError:
            current = None
        if current != etag:
            raise ConditionFailedError(f"{path} changed since it was read")

    def _write(self, name: str, write: _Writer, overwrite: bool) -> None:
        target = self._path(name)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            # Write beside the target, then publish atomically: a reader never sees half a zip.
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
                for chunk in iter(lambda: source.read(CHUNK), b""):
                    handle.write(chunk)

        self._write(name, write, overwrite)

    def put_bytes(
        self, name: str, data: bytes, *, overwrite: bool, if_match: str | None = None
    ) -> str:
        def write(handle: _Handle) -> None:
            handle.write(data)

        if if_match is None:
            self._write(name, write, overwrite)
        else:
            # Check and replace under one lock: the local twin of S3's atomic If-Match.
            path = self._path(name)
            path.parent.mkdir(parents=True, exist_ok=True)
            with _object_lock(path):
                self._check_version(path, if_match)
                self._write(name, write, True)
        return _etag(data)

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
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return info.st_size, digest.hexdigest()


class _Writer(Protocol):
    def __call__(self, handle: _Handle, /) -> None: ...
