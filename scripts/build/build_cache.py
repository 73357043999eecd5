"""A local cache of work the layer build repeats: deflated files and compiled bytecode.

A warm rebuild (a new pin among forty unchanged ones) would otherwise compress ~140 MB
and compile ~2,000 modules again: most of its time. Entries are keyed by the sha256 of
their input and what else decides the output (compression level; Python version and the
file's runtime path for bytecode), so a hit returns exactly the bytes a fresh run would
produce and the zip stays byte-identical. Entries are written atomically; the directory
can be deleted at any time (`LAYERS_CACHE_DIR`, default ~/.cache/bluemoxon-layers).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from scripts import settings


def digest(*parts: bytes) -> str:
    hasher = hashlib.sha256()
    for part in parts:
        hasher.update(len(part).to_bytes(8, "little"))
        hasher.update(part)
    return hasher.hexdigest()


@dataclass(frozen=True)
class BuildCache:
    root: Path

    def _path(self, kind: str, key: str) -> Path:
        return self.root / kind / key[:2] / key

    def get(self, kind: str, key: str) -> bytes | None:
        try:
            return self._path(kind, key).read_bytes()
        except OSError:
            return None

    def put(self, kind: str, key: str, data: bytes) -> None:
        """Best effort: a full or read-only disk only makes the next build slower."""
        path = self._path(kind, key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            Path(tmp).replace(path)
        except OSError:
            return


def open_cache(root: Path | None = None) -> BuildCache | None:
    """The cache, or None when it is turned off (LAYERS_CACHE_DIR=off)."""
    if root is not None:
        return BuildCache(root)
    configured = settings.cache_dir()
    return None if configured is None else BuildCache(configured)
