"""The function package's rough edges a new user hit (issue 19): a file name that is not
UTF-8, and a huge file refused only after it was zipped."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from environments import PackageSpec
from scripts.build.backend import PackageSource, build_backend
from scripts.errors import BadInputError
from scripts.store import LocalStore


def _backend(root: Path) -> Path:
    for relative, text in {
        "app/__init__.py": "",
        "app/main.py": "def handler(e, c):\n    return 1\n",
        "lambdas/__init__.py": "",
        "VERSION": "1.0.0\n",
    }.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    return root


def test_a_file_name_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    """It failed with a bare UnicodeEncodeError ('surrogates not allowed'), no file named."""
    backend = _backend(tmp_path / "b")
    (backend / "app").joinpath(os.fsdecode(b"caf\xe9.txt")).write_text("latin-1 name")
    source = PackageSource.resolve(backend, PackageSpec())
    with pytest.raises(BadInputError) as caught:
        build_backend(source=source, store=LocalStore(tmp_path / "store"), build_dir=tmp_path)
    message = str(caught.value)
    assert message.startswith("b'")
    assert "app/caf\\xe9.txt" in message
    assert "not valid UTF-8" in message
    assert not (tmp_path / "store").exists() or not any((tmp_path / "store").iterdir())


def test_a_huge_file_is_refused_before_anything_is_zipped(tmp_path: Path) -> None:
    """A 300 MB file was zipped (8 s, 945 MB of memory) before the budget refused it."""
    backend = _backend(tmp_path / "b")
    with (backend / "app" / "model.bin").open("wb") as huge:
        huge.truncate(300 * 1024 * 1024)  # sparse: its size is known from stat alone
    build = tmp_path / "build"
    source = PackageSource.resolve(backend, PackageSpec())
    with pytest.raises(BadInputError, match=r"^function package is 314,572,8\d\d bytes unzipped"):
        build_backend(source=source, store=LocalStore(tmp_path / "store"), build_dir=build)
    assert list(build.glob("*.zip")) == []
