"""The threaded zip writer against `zipfile`, and where a layer build stages its install."""

from __future__ import annotations

import hashlib
import os
import zipfile
from pathlib import Path

import pytest

from scripts.builder.layer import scratch_root
from scripts.builder.zipping import collect_files, write_zip, write_zip_with_zipfile


def _tree(root: Path) -> None:
    files = {
        "pkg/__init__.py": b"x = 1\n",
        "pkg/empty.txt": b"",
        "pkg/run.sh": b"#!/bin/sh\necho run\n",
        "pkg/donn\u00e9es.txt": b"non-ASCII name: the UTF-8 flag\n",
        # Compressible and incompressible data, larger than zlib's window.
        "pkg/big.txt": b"layer " * 200_000,
        "pkg/random.bin": hashlib.sha256(b"seed").digest() * 4096,
        "zeta.py": b"z = 2\n",
    }
    for relative, data in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(data)
    (root / "pkg" / "run.sh").chmod(0o755)
    for index in range(300):  # more files than the writer keeps in flight
        (root / "many" / f"m{index:03}.py").parent.mkdir(exist_ok=True)
        (root / "many" / f"m{index:03}.py").write_text(f"VALUE = {index}\n" * (index % 7))


@pytest.mark.parametrize("workers", [1, 3])
def test_threaded_writer_matches_zipfile_byte_for_byte(tmp_path: Path, workers: int) -> None:
    _tree(tmp_path / "tree")
    files = collect_files(tmp_path / "tree", prefix="python/")
    fast = write_zip(files, tmp_path / "fast.zip", workers=workers)
    reference = write_zip_with_zipfile(files, tmp_path / "reference.zip")
    assert fast.path.read_bytes() == reference.path.read_bytes()
    assert (fast.sha256, fast.zip_bytes, fast.unzipped_bytes, fast.entries) == (
        reference.sha256,
        reference.zip_bytes,
        reference.unzipped_bytes,
        reference.entries,
    )
    assert fast.sha256 == hashlib.sha256(fast.path.read_bytes()).hexdigest()
    with zipfile.ZipFile(fast.path) as archive:
        assert archive.testzip() is None  # every CRC checks out
        assert archive.read("python/pkg/donn\u00e9es.txt").startswith(b"non-ASCII")


def test_scratch_root_needs_a_writable_directory_with_room(tmp_path: Path) -> None:
    assert scratch_root(tmp_path, needed_bytes=1) == tmp_path
    assert scratch_root(tmp_path / "missing", needed_bytes=1) is None
    assert scratch_root(tmp_path, needed_bytes=1 << 62) is None
    (tmp_path / "file").write_text("x")
    assert scratch_root(tmp_path / "file", needed_bytes=1) is None
    if os.geteuid() != 0:  # root may write anywhere
        (tmp_path / "locked").mkdir(mode=0o500)
        assert scratch_root(tmp_path / "locked", needed_bytes=1) is None
