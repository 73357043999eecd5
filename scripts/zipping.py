"""Byte-identical zip archives: the same files give the same sha256 on any machine.

A content-addressed artifact is only useful if rebuilding it reproduces its name. `zip -r`
records each file's mtime, owner permissions (shaped by the umask), directory order and
platform extra fields, so two builds of the same lock never match. Here every one of those
is fixed: entries sorted by name, one timestamp, two permission modes, one compression level,
no extra fields, no directory entries.
"""

from __future__ import annotations

import stat
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

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


def write_zip(files: Iterable[tuple[str, Path]], dest: Path) -> ZipResult:
    """Write `files` (archive name, source) to `dest` deterministically and hash the result."""
    entries = sorted(files)
    counts = Counter(name for name, _ in entries)
    duplicates = sorted(name for name, count in counts.items() if count > 1)
    if duplicates:
        raise BadInputError(f"zip: duplicate archive names: {', '.join(duplicates[:5])}")
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


def total_size(files: Sequence[tuple[str, Path]]) -> int:
    return sum(source.stat().st_size for _, source in files)
