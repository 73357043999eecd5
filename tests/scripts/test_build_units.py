"""Pure logic of the builders: cache key, pins, platform, zips, pruning, budgets (no uv)."""

from __future__ import annotations

import os
import stat
import sys
import threading
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from environments import ENVIRONMENTS
from scripts import progress
from scripts.builder.budget import SizeBudgetError, check_budget
from scripts.builder.bytecode import find_interpreter
from scripts.builder.cache_key import cache_key, marker_target, short_hash
from scripts.builder.identity import layer_hash
from scripts.builder.layout import PruneOptions, prune
from scripts.builder.lockfile import LockSource, read_pins
from scripts.builder.pins import MarkerTarget, pin_differences
from scripts.builder.poetry_lock import read_poetry_lock
from scripts.builder.requirements import parse_requirements
from scripts.builder.wheels import (
    MissingWheelError,
    explain_uv_failure,
    target_platform,
    unpinned_installs,
)
from scripts.builder.zipping import FIXED_DATE_TIME, collect_files, write_zip
from scripts.errors import BadInputError

BASE = {
    "pins": {"pins": [["a", "1", ["sha256:aa"]]], "indexes": []},
    "runtime": "python3.12",
    "architecture": "x86_64",
    "platform_tag": "manylinux_2_34_x86_64",
    "format_version": 1,
    "prune": PruneOptions(),
    "bytecode": True,
}
TARGET = MarkerTarget(python_version="3.12", architecture="x86_64")


def test_cache_key_is_stable_and_hex() -> None:
    key = cache_key(**BASE)  # type: ignore[arg-type]
    assert key == cache_key(**BASE)  # type: ignore[arg-type]
    assert len(key) == 64
    assert int(key, 16) >= 0
    assert short_hash(key) == key[:16]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("pins", {"pins": [["a", "2", ["sha256:aa"]]], "indexes": []}),
        ("pins", {"pins": [["a", "1", ["sha256:bb"]]], "indexes": []}),
        ("pins", {"pins": [["a", "1", ["sha256:aa"]]], "indexes": ["--index-url X"]}),
        ("bytecode", False),
        ("runtime", "python3.13"),
        ("architecture", "arm64"),
        ("platform_tag", "manylinux_2_17_x86_64"),
        ("format_version", 2),
        ("prune", PruneOptions(drop_scripts=False)),
        ("prune", PruneOptions(drop_bytecode=False)),
        ("prune", PruneOptions(extra_patterns=("*/tests",))),
    ],
)
def test_every_input_changes_the_cache_key(field: str, value: object) -> None:
    assert cache_key(**{**BASE, field: value}) != cache_key(**BASE)  # type: ignore[arg-type]


def test_layer_hash_of_an_environment_follows_runtime_and_architecture() -> None:
    staging = ENVIRONMENTS["staging"]
    base = layer_hash(staging)
    assert len(base) == 16
    assert layer_hash(staging) == base
    assert layer_hash(replace(staging, architecture="arm64")) != base
    assert layer_hash(replace(staging, backend=replace(staging.backend, bytecode=False))) != base
    # The same lock serves every environment with the same runtime: staging and prod agree.
    assert layer_hash(ENVIRONMENTS["prod"]) == base


def test_target_platform_matches_the_runtime_glibc() -> None:
    p312 = target_platform("python3.12", "x86_64")
    assert (p312.uv_platform, p312.platform_tag, p312.python_version) == (
        "x86_64-manylinux_2_34",
        "manylinux_2_34_x86_64",
        "3.12",
    )
    # Amazon Linux 2 (glibc 2.26): the newest level uv offers below it is manylinux2014.
    p311 = target_platform("python3.11", "arm64")
    assert p311.uv_platform == "aarch64-manylinux_2_17"
    with pytest.raises(BadInputError, match=r"python2\.7"):
        target_platform("python2.7", "x86_64")


REQUIREMENTS = """--index-url https://pypi.org/simple

Annotated_Types==0.8.0 ; python_version == "3.12" \\
    --hash=sha256:aaaa \\
    --hash=sha256:bbbb
pydantic[email]==2.14.4 ; python_version >= "3.9" \\
    --hash=sha256:cccc
# a comment
"""


def test_parse_requirements_reads_pins_hashes_markers_and_continuations() -> None:
    parsed = parse_requirements(REQUIREMENTS, source=Path("r.txt"))
    assert parsed.index_options == ("--index-url https://pypi.org/simple",)
    assert [(r.name, r.version, r.hashes, r.marker) for r in parsed.requirements] == [
        ("annotated-types", "0.8.0", ("sha256:aaaa", "sha256:bbbb"), 'python_version == "3.12"'),
        ("pydantic", "2.14.4", ("sha256:cccc",), 'python_version >= "3.9"'),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("httpx>=0.28\n", "not pinned"),
        ("httpx\n", "not pinned"),
        ("-r other.txt\n", "not supported"),
        ("-e .\n", "not supported"),
    ],
)
def test_parse_requirements_refuses_what_it_cannot_pin(text: str, message: str) -> None:
    with pytest.raises(BadInputError, match=message):
        parse_requirements(text, source=Path("r.txt"))


LOCK = """
[metadata]
lock-version = "2.1"
python-versions = "^3.10"

[[package]]
name = "httpx"
version = "0.28.1"
optional = false
groups = ["main"]

[[package]]
name = "pytest"
version = "9.0.0"
optional = false
groups = ["dev"]

[[package]]
name = "email-validator"
version = "2.0.0"
optional = true
groups = ["main"]

[[package]]
name = "Typing_Extensions"
version = "4.16.0"
optional = false
groups = ["main", "dev"]
markers = {main = "python_version < \\"3.13\\"", dev = "python_version >= \\"3.8\\""}
files = [{file = "t.whl", hash = "sha256:bb"}, {file = "t.tar.gz", hash = "sha256:aa"}]

[[package]]
name = "colorama"
version = "0.4.6"
optional = false
groups = ["main"]
markers = "sys_platform == \\"win32\\""
"""


def test_lock_pins_are_the_main_group_for_the_target_without_extras(tmp_path: Path) -> None:
    lock = tmp_path / "poetry.lock"
    locked = read_poetry_lock(lock, LOCK, TARGET)
    assert locked.versions() == {"httpx": "0.28.1", "typing-extensions": "4.16.0"}
    assert dict((p.name, p.hashes) for p in locked.pins)["typing-extensions"] == (
        "sha256:aa",
        "sha256:bb",
    )
    py313 = MarkerTarget(python_version="3.13", architecture="x86_64")
    assert read_poetry_lock(lock, LOCK, py313).versions() == {"httpx": "0.28.1"}
    with pytest.raises(BadInputError, match="poetry lock"):
        read_poetry_lock(lock, "[[package]\n", TARGET)


def test_pin_differences_lists_every_disagreement() -> None:
    lock = {"a": "1", "b": "2", "c": "3"}
    reqs = {"a": "1", "b": "2.1", "d": "4"}
    assert pin_differences(lock, reqs) == [
        "b: requirements 2.1, lock 2",
        "c: 3 in the lock, missing from requirements",
        "d: 4 in requirements, not in the lock",
    ]
    assert pin_differences(lock, lock) == []


def test_configured_requirements_must_match_the_lock(tmp_path: Path) -> None:
    (tmp_path / "poetry.lock").write_text(LOCK)
    (tmp_path / "requirements.txt").write_text("httpx==0.27.0\ntyping-extensions==4.16.0\n")
    source = LockSource(
        lock_file=tmp_path / "poetry.lock", requirements_file=tmp_path / "requirements.txt"
    )
    with pytest.raises(BadInputError, match=r"does not match .*httpx: requirements 0.27.0"):
        read_pins(source, TARGET)


def test_example_backend_lock_is_read_directly() -> None:
    staging = ENVIRONMENTS["staging"]
    assert staging.lock_file is not None
    assert staging.requirements_file is None  # no export to keep in sync
    source = LockSource(lock_file=staging.lock_file)
    locked = read_pins(source, marker_target(target_platform("python3.12", "x86_64")))
    assert locked.lock_format == "poetry"
    assert "pydantic-core" in locked.versions()
    assert locked.unhashed() == []


def test_unpinned_installs_catch_an_incomplete_export() -> None:
    pins = {"alpha": "1.0"}
    assert unpinned_installs({"alpha": "1.0"}, pins) == []
    assert unpinned_installs({"alpha": "1.1", "beta": "2.0"}, pins) == [
        "alpha==1.1 was installed but 1.0 is pinned",
        "beta==2.0 was installed as a dependency but is not pinned",
    ]


UV_NO_WHEEL = """Using CPython 3.11.7 interpreter at: /usr/bin/python3
error: No solution found when resolving dependencies
  cause: Because gamma==3.0 has no wheels with a matching platform tag (e.g., `manylinux_2_34_aarch64`) and you require gamma==3.0, we can conclude that your requirements are unsatisfiable.
"""  # noqa: E501


def test_uv_failures_become_one_actionable_line() -> None:
    platform = target_platform("python3.12", "arm64")
    err = explain_uv_failure(UV_NO_WHEEL, platform)
    assert isinstance(err, MissingWheelError)
    assert "gamma==3.0" in str(err)
    assert "manylinux_2_34_aarch64" in str(err)
    missing = explain_uv_failure("Because delta was not found in the package registry", platform)
    assert "delta: not found" in str(missing)
    other = explain_uv_failure("error: network down\n", platform)
    assert "network down" in str(other)


def _tree(root: Path, *, mtime: int, file_mode: int, exec_mode: int) -> None:
    (root / "pkg" / "sub").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("x = 1\n")
    (root / "pkg" / "sub" / "data.txt").write_text("data\n" * 100)
    (root / "pkg" / "run.sh").write_text("#!/bin/sh\n")
    (root / "zeta.py").write_text("z = 2\n")
    for path in root.rglob("*"):
        if path.is_file():
            path.chmod(exec_mode if path.name == "run.sh" else file_mode)
            os.utime(path, (mtime, mtime))


def test_zips_are_byte_identical_across_mtimes_modes_and_directories(tmp_path: Path) -> None:
    one, two = tmp_path / "one" / "tree", tmp_path / "elsewhere" / "deeper" / "tree"
    _tree(one, mtime=1_000_000_000, file_mode=0o644, exec_mode=0o755)
    _tree(two, mtime=1_700_000_000, file_mode=0o600, exec_mode=0o700)
    first = write_zip(collect_files(one, prefix="python/"), tmp_path / "a.zip")
    second = write_zip(collect_files(two, prefix="python/"), tmp_path / "b.zip")
    assert first.sha256 == second.sha256
    assert first.entries == 4
    with zipfile.ZipFile(first.path) as archive:
        infos = archive.infolist()
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    assert all(i.date_time == FIXED_DATE_TIME for i in infos)
    assert all(i.extra == b"" for i in infos)
    modes = {i.filename: stat.S_IMODE(i.external_attr >> 16) for i in infos}
    assert modes["python/pkg/run.sh"] == 0o755
    assert modes["python/pkg/__init__.py"] == 0o644
    assert first.unzipped_bytes == sum(i.file_size for i in infos)


def test_prune_drops_bytecode_and_scripts_and_keeps_metadata(tmp_path: Path) -> None:
    site = tmp_path / "python"
    for relative in (
        "pkg/__init__.py",
        "pkg/__pycache__/__init__.cpython-311.pyc",
        "pkg/stray.pyc",
        "bin/tool",
        "pkg-1.0.dist-info/METADATA",
        "pkg/tests/test_x.py",
        ".lock",
    ):
        (site / relative).parent.mkdir(parents=True, exist_ok=True)
        (site / relative).write_text("x")
    removed = prune(site, PruneOptions())
    assert removed == [".lock", "bin", "pkg/__pycache__", "pkg/stray.pyc"]
    assert (site / "pkg-1.0.dist-info" / "METADATA").is_file()
    assert (site / "pkg" / "tests").is_dir()
    assert prune(site, PruneOptions(extra_patterns=("*/tests",))) == ["pkg/tests"]
    with pytest.raises(ValueError, match="inside python"):
        PruneOptions(extra_patterns=("../x",))


def test_size_budget_fails_over_the_limit_and_names_the_largest(
    capsys: pytest.CaptureFixture[str],
) -> None:
    sizes = {f"pkg{i}": i * 10 for i in range(1, 13)}
    with pytest.raises(SizeBudgetError, match=r"over Lambda's 1,000-byte limit.*pkg12"):
        check_budget(layer_bytes=990, function_bytes=11, limit=1000, sizes=sizes)
    top = check_budget(layer_bytes=850, function_bytes=0, limit=1000, sizes=sizes)
    assert [name for name, _ in top] == [f"pkg{i}" for i in range(12, 2, -1)]
    assert "warning: 85%" in capsys.readouterr().err
    check_budget(layer_bytes=100, function_bytes=0, limit=1000, sizes=sizes)
    assert "warning" not in capsys.readouterr().err


def test_a_long_step_reports_that_it_is_still_running(capsys: pytest.CaptureFixture[str]) -> None:
    released = threading.Event()
    with progress.step("slow install", heartbeat_s=0.01):
        # Wait until at least one heartbeat line went out, instead of sleeping blindly.
        for _ in range(500):
            if "... slow install" in capsys.readouterr().err:
                released.set()
                break
            released.wait(0.01)
    assert released.is_set()
    assert "  slow install: " in capsys.readouterr().err


def test_a_missing_runtime_interpreter_says_how_to_get_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))
    with pytest.raises(BadInputError) as caught:
        find_interpreter("3.99")
    message = str(caught.value)
    assert "Python 3.99 interpreter" in message
    assert "uv python install 3.99" in message and "LAYERS_PYTHON_3_99" in message
    assert "--no-bytecode" in message
    # An explicit interpreter of another version is not taken for this one.
    monkeypatch.setenv("LAYERS_PYTHON_3_99", sys.executable)
    with pytest.raises(BadInputError):
        find_interpreter("3.99")
