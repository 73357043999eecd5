"""Byte-identical zip archives: the same files give the same sha256 on any machine.

A content-addressed artifact is only useful if rebuilding it reproduces its name. `zip -r`
records each file's mtime, owner permissions (shaped by the umask), directory order and
platform extra fields, so two builds of the same lock never match. Here every one of those
is fixed: entries sorted by name, one timestamp, two permission modes, one compression level,
no extra fields, no directory entries.
"""

from __future__ import annotations

import hashlib
import os
import stat
import struct
import zipfile
import zlib
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from scripts.build.build_cache import BuildCache, digest
from scripts.errors import BadInputError
from scripts.store import sha256_file

# The earliest time a zip header can hold; any fixed value works, this one is conventional.
FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)
COMPRESS_LEVEL = 6
FILE_MODE = 0o644
EXEC_MODE = 0o755
_UNIX = 3


@dataclass(frozen=True, kw_only=True)
class ZipResult:
    path: Path
    sha256: str
    zip_bytes: int
    unzipped_bytes: int
    entries: int


def collect_files(
    root: Path, *, prefix: str = "", skip: Callable[[Path], bool] | None = None
) -> list[tuple[str, Path]]:
    """(archive name, source) for every file under `root`, names prefixed and POSIX-style.

    `skip` sees each path relative to `root`; a skipped directory is not descended into.
    """
    found: list[tuple[str, Path]] = []
    pending = [root]
    while pending:
        directory = pending.pop()
        for path in directory.iterdir():
            relative = path.relative_to(root)
            if skip is not None and skip(relative):
                continue
            if path.is_dir() and not path.is_symlink():
                pending.append(path)
            elif path.is_file():
                found.append((f"{prefix}{relative.as_posix()}", path))
    return sorted(found)


def normalised_mode(path: Path) -> int:
    """0o755 when the owner may execute the file, else 0o644: the umask no longer matters."""
    return EXEC_MODE if path.stat().st_mode & stat.S_IXUSR else FILE_MODE


def write_zip(
    files: Iterable[tuple[str, Path]],
    dest: Path,
    *,
    workers: int | None = None,
    cache: BuildCache | None = None,
) -> ZipResult:
    """Write `files` (archive name, source) to `dest` deterministically and hash the result.

    Compressing is most of a layer build's own time (~1.6 s of deflate for 50 MB), and
    zipfile does it on one core: here `workers` threads deflate files ahead (zlib releases
    the GIL) while this thread writes them in name order. The bytes are exactly what
    `zipfile` writes for the same entries (`write_zip_with_zipfile`, the reference, and
    the fallback for archives that would need ZIP64). With a `cache`, a file whose
    content was deflated before is not compressed again (the same bytes come back).
    """
    entries = _checked(files)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if len(entries) > _MAX_ENTRIES or total_size(entries) > _MAX_BYTES:
        return write_zip_with_zipfile(entries, dest)
    digest = hashlib.sha256()
    central: list[bytes] = []
    offset = unzipped = 0
    with dest.open("wb") as out:

        def emit(chunk: bytes) -> None:
            nonlocal offset
            out.write(chunk)
            digest.update(chunk)
            offset += len(chunk)

        sources = [source for _, source in entries]

        def deflate(source: Path) -> _Deflated:
            return _deflate(source, cache)

        for (name, _), packed in zip(entries, _in_order(deflate, sources, workers), strict=True):
            encoded, flags = _encode_name(name)
            fields = (flags, zipfile.ZIP_DEFLATED, _DOS_TIME, _DOS_DATE)
            sizes = (packed.crc, len(packed.body), packed.size, len(encoded))
            header_offset = offset
            emit(struct.pack(_LOCAL_HEADER, b"PK\003\004", _VERSION, 0, *fields, *sizes, 0))
            emit(encoded)
            emit(packed.body)
            attributes = (stat.S_IFREG | packed.mode) << 16
            central.append(
                struct.pack(
                    _CENTRAL_HEADER,
                    b"PK\001\002",
                    _VERSION,
                    _UNIX,
                    _VERSION,
                    0,
                    *fields,
                    *sizes,
                    0,  # extra field length
                    0,  # comment length
                    0,  # disk number
                    0,  # internal attributes
                    attributes,
                    header_offset,
                )
                + encoded
            )
            unzipped += packed.size
        start = offset
        for record in central:
            emit(record)
        count = len(central)
        emit(struct.pack(_END_RECORD, b"PK\005\006", 0, 0, count, count, offset - start, start, 0))
    return ZipResult(
        path=dest,
        sha256=digest.hexdigest(),
        zip_bytes=offset,
        unzipped_bytes=unzipped,
        entries=len(entries),
    )


def write_zip_with_zipfile(files: Iterable[tuple[str, Path]], dest: Path) -> ZipResult:
    """The same archive through `zipfile`, one file at a time (handles ZIP64)."""
    entries = _checked(files)
    dest.parent.mkdir(parents=True, exist_ok=True)
    unzipped = 0
    with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, source in entries:
            info = zipfile.ZipInfo(name, date_time=FIXED_DATE_TIME)
            info.create_system = _UNIX
            info.external_attr = (stat.S_IFREG | normalised_mode(source)) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            data = source.read_bytes()
            unzipped += len(data)
            archive.writestr(info, data, compresslevel=COMPRESS_LEVEL)
    return ZipResult(
        path=dest,
        sha256=sha256_file(dest),
        zip_bytes=dest.stat().st_size,
        unzipped_bytes=unzipped,
        entries=len(entries),
    )


def _checked(files: Iterable[tuple[str, Path]]) -> list[tuple[str, Path]]:
    entries = sorted(files)
    counts = Counter(name for name, _ in entries)
    duplicates = sorted(name for name, count in counts.items() if count > 1)
    if duplicates:
        raise BadInputError(f"zip: duplicate archive names: {', '.join(duplicates[:5])}")
    for name, source in entries:
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            # A name the file system holds as bytes that are not UTF-8 (Python keeps them
            # as surrogates): a zip entry's name must be UTF-8, and Lambda unpacks it so.
            raise BadInputError(
                f"{os.fsencode(source)!r}: the file name is not valid UTF-8, which a zip "
                "entry name must be: rename the file (or exclude it)"
            ) from None
    return entries


# The ZIP records zipfile writes without ZIP64 (APPNOTE 4.3.7, 4.3.12, 4.3.16).
_LOCAL_HEADER = "<4s2B4HL2L2H"
_CENTRAL_HEADER = "<4s4B4HL2L5H2L"
_END_RECORD = "<4s4H2LH"
_VERSION = 20  # "needed to extract" and "made by": deflate, no ZIP64
_UTF8_NAME = 1 << 11
_DOS_DATE = (FIXED_DATE_TIME[0] - 1980) << 9 | FIXED_DATE_TIME[1] << 5 | FIXED_DATE_TIME[2]
_DOS_TIME = FIXED_DATE_TIME[3] << 11 | FIXED_DATE_TIME[4] << 5 | FIXED_DATE_TIME[5] // 2
# Past these zipfile switches to ZIP64 records: leave such archives to it. Layers stay far
# below (Lambda allows 250 MB unzipped); the size bound keeps every offset under 2 GiB.
_MAX_ENTRIES = 0xFFFF
_MAX_BYTES = 1 << 30


def _encode_name(name: str) -> tuple[bytes, int]:
    try:
        return name.encode("ascii"), 0
    except UnicodeEncodeError:
        return name.encode("utf-8"), _UTF8_NAME


@dataclass(frozen=True)
class _Deflated:
    crc: int
    size: int
    mode: int
    body: bytes


# Below this a file is compressed again rather than cached: a cache entry is a file on
# disk, and creating thousands of small ones costs more than deflating them (measured on
# the realistic layer: files over 16 KiB are a fifth of the count, 91% of the bytes).
_SMALL = 16 * 1024


def _deflate(source: Path, cache: BuildCache | None = None) -> _Deflated:
    data = source.read_bytes()
    key = (
        digest(b"deflate", str(COMPRESS_LEVEL).encode(), data)
        if cache and len(data) > _SMALL
        else None
    )
    body = cache.get("deflate", key) if cache and key else None
    if body is None:
        compressor = zlib.compressobj(COMPRESS_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
        body = compressor.compress(data) + compressor.flush()
        if cache and key:
            cache.put("deflate", key, body)
    return _Deflated(crc=zlib.crc32(data), size=len(data), mode=normalised_mode(source), body=body)


_AHEAD_PER_WORKER = 64
T = TypeVar("T")
R = TypeVar("R")


def _in_order(fn: Callable[[T], R], items: Sequence[T], workers: int | None) -> Iterator[R]:
    """`map(fn, items)` on a thread pool, a bounded number of results ahead of the consumer.

    The bound is generous: one large file at the head must not stall the other workers.
    """
    count = workers or min(4, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=count) as pool:
        pending: deque[Future[R]] = deque()
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= _AHEAD_PER_WORKER * count:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def total_size(files: Sequence[tuple[str, Path]]) -> int:
    return sum(source.stat().st_size for _, source in files)
