"""Pure logic of the builders: cache key, pins, platform, zips, pruning, budgets (no uv)."""

from __future__ import annotations

import os
import stat
import threading
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from environments import ENVIRONMENTS
from scripts import progress
from scripts.build.backend import (
    backend_files,
    backend_hash,
    build_backend_zip,
    check_package_size,
)
from scripts.build.cache_key import cache_key, layer_hash, short_hash
from scripts.build.layer import SizeBudgetError, check_budget, check_pins
from scripts.build.layout import PruneOptions, prune
from scripts.build.wheels import (
    MissingWheelError,
    explain_uv_failure,
    parse_poetry_lock,
    parse_requirements,
    pin_differences,
    target_platform,
    unpinned_installs,
)
from scripts.build.zipping import FIXED_DATE_TIME, collect_files, write_zip
from scripts.errors import BadInputError

BASE = {
    "lock_bytes": b"lock",
    "requirements_bytes": b"reqs",
    "runtime": "python3.12",
    "architecture": "x86_64",
    "platform_tag": "manylinux_2_34_x86_64",
    "format_version": 1,
    "prune": PruneOptions(),
}


def test_cache_key_is_stable_and_hex() -> None:
    key = cache_key(**BASE)  # type: ignore[arg-type]
    assert key == cache_key(**BASE)  # type: ignore[arg-type]
    assert len(key) == 64
    assert int(key, 16) >= 0
    assert short_hash(key) == key[:16]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("lock_bytes", b"lock2"),
        ("requirements_bytes", b"reqs2"),
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
    assert layer_hash(staging, architecture="arm64") != base
    assert layer_hash(replace(staging, runtime="python3.11")) != base
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
    parsed = parse_requirements(REQUIREMENTS)
    assert parsed.hashed is True
    assert parsed.pins == {
        "annotated-types": frozenset({"0.8.0"}),
        "pydantic": frozenset({"2.14.4"}),
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("httpx>=0.28\n", "not pinned"),
        ("httpx\n", "not pinned"),
        ("-r other.txt\n", "not supported"),
        ("a==1 --hash=sha256:ab\nb==2\n", "some requirements carry hashes"),
    ],
)
def test_parse_requirements_refuses_what_it_cannot_pin(text: str, message: str) -> None:
    with pytest.raises(BadInputError, match=message):
        parse_requirements(text)


LOCK = """
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
category = "main"
optional = false
"""


def test_lock_pins_are_the_main_group_without_extras() -> None:
    assert parse_poetry_lock(LOCK) == {
        "httpx": frozenset({"0.28.1"}),
        "typing-extensions": frozenset({"4.16.0"}),
    }
    with pytest.raises(BadInputError, match="poetry lock"):
        parse_poetry_lock("[[package]\n")


def test_pin_differences_lists_every_disagreement() -> None:
    lock = {"a": frozenset({"1"}), "b": frozenset({"2"}), "c": frozenset({"3"})}
    reqs = {"a": frozenset({"1"}), "b": frozenset({"2.1"}), "d": frozenset({"4"})}
    assert pin_differences(lock, reqs) == [
        "b: requirements 2.1, lock 2",
        "c: 3 in the lock, missing from requirements",
        "d: 4 in requirements, not in the lock",
    ]
    assert pin_differences(lock, lock) == []


def test_check_pins_fails_before_anything_is_installed(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match=r"does not match .*httpx: requirements 0.27.0"):
        check_pins(
            LOCK,
            "httpx==0.27.0\ntyping-extensions==4.16.0\n",
            lock=tmp_path / "poetry.lock",
            requirements=tmp_path / "requirements.txt",
        )


def test_example_backend_requirements_match_its_lock() -> None:
    staging = ENVIRONMENTS["staging"]
    assert staging.lock_file is not None
    assert staging.requirements_file is not None
    hashed = check_pins(
        staging.lock_file.read_text(),
        staging.requirements_file.read_text(),
        lock=staging.lock_file,
        requirements=staging.requirements_file,
    )
    assert hashed is True
    assert "pydantic-core" in parse_poetry_lock(staging.lock_file.read_text())


def test_unpinned_installs_catch_an_incomplete_export() -> None:
    pins = {"alpha": frozenset({"1.0"})}
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


def _backend(root: Path) -> Path:
    for relative, text in {
        "app/__init__.py": "",
        "app/main.py": "def handler(e, c):\n    return 1\n",
        "app/__pycache__/main.cpython-312.pyc": "junk",
        "lambdas/__init__.py": "",
        "lambdas/cleanup/handler.py": "def handler(e, c):\n    return 2\n",
        "VERSION": "1.0.0\n",
        "poetry.lock": "not packaged",
        "tests/test_x.py": "not packaged",
    }.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    return root


def test_function_package_holds_only_app_lambdas_and_version(tmp_path: Path) -> None:
    backend = _backend(tmp_path / "b1")
    names = [name for name, _ in backend_files(backend)]
    assert names == [
        "VERSION",
        "app/__init__.py",
        "app/main.py",
        "lambdas/__init__.py",
        "lambdas/cleanup/handler.py",
    ]
    first = build_backend_zip(backend, tmp_path / "one.zip")
    other = _backend(tmp_path / "elsewhere" / "b2")
    os.utime(other / "VERSION", (1, 1))
    assert build_backend_zip(other, tmp_path / "two.zip").sha256 == first.sha256
    assert backend_hash(backend) == first.sha256[:16]
    (other / "VERSION").write_text("1.0.1\n")
    assert backend_hash(other) != backend_hash(backend)


def test_function_package_over_the_limit_lists_the_largest_files(tmp_path: Path) -> None:
    backend = _backend(tmp_path / "b")
    (backend / "app" / "blob.bin").write_bytes(os.urandom(4096))
    files = backend_files(backend)
    built = build_backend_zip(backend, tmp_path / "p.zip")
    with pytest.raises(BadInputError, match=r"over the 1,024-byte limit.*app/blob.bin"):
        check_package_size(files, built.zip_bytes, 1024)
    check_package_size(files, built.zip_bytes, built.zip_bytes)


def test_backend_without_lambdas_is_refused(tmp_path: Path) -> None:
    backend = _backend(tmp_path / "b")
    (backend / "lambdas" / "cleanup" / "handler.py").unlink()
    (backend / "lambdas" / "cleanup").rmdir()
    (backend / "lambdas" / "__init__.py").unlink()
    (backend / "lambdas").rmdir()
    with pytest.raises(BadInputError, match="missing lambdas"):
        backend_files(backend)


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
