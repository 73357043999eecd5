"""Lock formats read directly for one target: poetry.lock 2.1, uv.lock, hashed requirements."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from environments import ENVIRONMENTS
from scripts.builder.lockfile import LockSource, check_hashes, installer_requirements, read_pins
from scripts.builder.pins import MarkerTarget, covers_python, python_constraint
from scripts.builder.poetry_lock import content_hash
from scripts.errors import BadInputError

X86 = MarkerTarget(python_version="3.12", architecture="x86_64")
ARM = MarkerTarget(python_version="3.12", architecture="arm64")
PY313 = MarkerTarget(python_version="3.13", architecture="x86_64")

UV_LOCK = """version = 1
revision = 2
requires-python = ">=3.11"
resolution-markers = ["python_full_version >= '3.13'", "python_full_version < '3.13'"]

[[package]]
name = "svc"
version = "0.1.0"
source = { virtual = "." }
dependencies = [
    { name = "pydantic", extra = ["email"] },
    { name = "uvloop", marker = "sys_platform != 'win32'" },
    { name = "colorama", marker = "sys_platform == 'win32'" },
    { name = "numpy", version = "2.1.0", source = { registry = "https://pypi.org/simple" }, marker = "python_full_version < '3.13'" },
    { name = "numpy", version = "2.3.0", source = { registry = "https://pypi.org/simple" }, marker = "python_full_version >= '3.13'" },
]

[package.dev-dependencies]
dev = [{ name = "pytest" }]

[package.metadata]
requires-dist = [
    { name = "pydantic", extras = ["email"], specifier = ">=2" },
    { name = "uvloop", marker = "sys_platform != 'win32'" },
    { name = "colorama", marker = "sys_platform == 'win32'" },
    { name = "numpy" },
]

[[package]]
name = "pydantic"
version = "2.10.0"
source = { registry = "https://pypi.org/simple" }
dependencies = [{ name = "typing-extensions" }]
wheels = [{ url = "https://x/pydantic.whl", hash = "sha256:p1", size = 1 }]

[package.optional-dependencies]
email = [{ name = "email-validator" }]

[[package]]
name = "email-validator"
version = "2.2.0"
source = { registry = "https://pypi.org/simple" }
sdist = { url = "https://x/ev.tar.gz", hash = "sha256:e0", size = 1 }
wheels = [{ url = "https://x/ev.whl", hash = "sha256:e1", size = 1 }]

[[package]]
name = "typing-extensions"
version = "4.12.2"
source = { registry = "https://pypi.org/simple" }
wheels = [{ url = "https://x/te.whl", hash = "sha256:t1", size = 1 }]

[[package]]
name = "uvloop"
version = "0.21.0"
source = { registry = "https://pypi.org/simple" }
wheels = [{ url = "https://x/uv.whl", hash = "sha256:u1", size = 1 }]

[[package]]
name = "colorama"
version = "0.4.6"
source = { registry = "https://pypi.org/simple" }
wheels = [{ url = "https://x/c.whl", hash = "sha256:c1", size = 1 }]

[[package]]
name = "numpy"
version = "2.1.0"
source = { registry = "https://pypi.org/simple" }
resolution-markers = ["python_full_version < '3.13'"]
wheels = [{ url = "https://x/n1.whl", hash = "sha256:n1", size = 1 }]

[[package]]
name = "numpy"
version = "2.3.0"
source = { registry = "https://pypi.org/simple" }
resolution-markers = ["python_full_version >= '3.13'"]
wheels = [{ url = "https://x/n2.whl", hash = "sha256:n2", size = 1 }]

[[package]]
name = "pytest"
version = "8.0.0"
source = { registry = "https://pypi.org/simple" }
wheels = [{ url = "https://x/pt.whl", hash = "sha256:pt", size = 1 }]
"""  # noqa: E501

PYPROJECT = """[project]
name = "svc"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = ["pydantic[email]>=2", "uvloop; sys_platform != 'win32'", "colorama; sys_platform == 'win32'", "numpy"]
"""  # noqa: E501


def write(tmp_path: Path, name: str, text: str) -> Path:
    (tmp_path / name).write_text(text)
    return tmp_path / name


def test_uv_lock_walks_the_projects_runtime_dependencies_for_the_target(tmp_path: Path) -> None:
    lock = write(tmp_path, "uv.lock", UV_LOCK)
    write(tmp_path, "pyproject.toml", PYPROJECT)
    pins = read_pins(LockSource(lock_file=lock), X86)
    assert pins.lock_format == "uv"
    assert pins.versions() == {
        "email-validator": "2.2.0",  # through pydantic's `email` extra
        "numpy": "2.1.0",  # the fork for Python < 3.13
        "pydantic": "2.10.0",
        "typing-extensions": "4.12.2",
        "uvloop": "0.21.0",  # no colorama (Windows only), no pytest (dev)
    }
    assert dict((p.name, p.hashes) for p in pins.pins)["email-validator"] == (
        "sha256:e0",
        "sha256:e1",
    )
    assert pins.indexes == ("--index-url https://pypi.org/simple",)
    assert read_pins(LockSource(lock_file=lock), PY313).versions()["numpy"] == "2.3.0"


def test_uv_lock_out_of_date_with_pyproject_names_uv_lock(tmp_path: Path) -> None:
    lock = write(tmp_path, "uv.lock", UV_LOCK)
    write(tmp_path, "pyproject.toml", PYPROJECT.replace('"numpy"]', '"numpy", "httpx"]'))
    with pytest.raises(BadInputError, match=r"out of date .*\(httpx\): run `uv lock`"):
        read_pins(LockSource(lock_file=lock), X86)


def test_uv_lock_for_a_python_it_does_not_cover(tmp_path: Path) -> None:
    lock = write(tmp_path, "uv.lock", UV_LOCK.replace('">=3.11"', '">=3.11,<3.12"', 1))
    with pytest.raises(BadInputError, match=r"'>=3.11,<3.12', which excludes python3.12"):
        read_pins(LockSource(lock_file=lock), X86)


def test_content_hash_is_poetrys_own() -> None:
    example = ENVIRONMENTS["staging"].backend_dir
    pyproject = (example / "pyproject.toml").read_text()
    lock = (example / "poetry.lock").read_text()
    assert content_hash(tomllib.loads(pyproject)) in lock  # poetry's own algorithm


def test_a_stale_poetry_lock_is_refused(tmp_path: Path) -> None:
    example = ENVIRONMENTS["staging"].backend_dir
    lock = write(tmp_path, "poetry.lock", (example / "poetry.lock").read_text())
    pyproject = (example / "pyproject.toml").read_text()
    write(tmp_path, "pyproject.toml", pyproject.replace('httpx = "^0.28"', 'httpx = "^0.27"'))
    with pytest.raises(BadInputError, match=r"out of date .*run `poetry lock` in"):
        read_pins(LockSource(lock_file=lock), X86)


@pytest.mark.parametrize("metadata", ['lock-version = "2.0"', 'lock-version = "1.1"', ""])
def test_a_poetry_lock_older_than_2_1_is_refused_naming_the_fix(
    tmp_path: Path, metadata: str
) -> None:
    lock = write(
        tmp_path,
        "poetry.lock",
        f'[[package]]\nname = "a"\nversion = "1"\ncategory = "main"\n\n[metadata]\n{metadata}\n',
    )
    with pytest.raises(BadInputError, match=r"Poetry >= 2.0 \(`poetry lock`"):
        read_pins(LockSource(lock_file=lock), X86)


def test_poetry_lock_from_a_git_source_is_refused(tmp_path: Path) -> None:
    lock = write(
        tmp_path,
        "poetry.lock",
        '[[package]]\nname = "a"\nversion = "1"\ngroups = ["main"]\nfiles = []\n\n'
        '[package.source]\ntype = "git"\nurl = "https://example.invalid/a.git"\n\n'
        '[metadata]\nlock-version = "2.1"\npython-versions = "^3.10"\n',
    )
    with pytest.raises(BadInputError, match="a comes from a git source"):
        read_pins(LockSource(lock_file=lock), X86)


def test_hashed_requirements_with_markers_evaluated_for_the_target(tmp_path: Path) -> None:
    lock = write(
        tmp_path,
        "requirements.txt",
        "--index-url https://pypi.org/simple\n"
        "a==1.0 --hash=sha256:aa\n"
        "uvloop==0.21.0 ; sys_platform != 'win32' --hash=sha256:uu\n"
        "b==2.0 ; platform_machine == 'aarch64' \\\n    --hash=sha256:bb  # via a\n",
    )
    assert read_pins(LockSource(lock_file=lock), X86).versions() == {"a": "1.0", "uvloop": "0.21.0"}
    arm = read_pins(LockSource(lock_file=lock), ARM)
    assert arm.versions() == {"a": "1.0", "b": "2.0", "uvloop": "0.21.0"}
    text = installer_requirements(arm)
    assert text.startswith("--index-url https://pypi.org/simple\na==1.0 \\\n    --hash=sha256:aa")
    assert ";" not in text  # markers were evaluated here, for Lambda, not by the installer


def test_requirements_that_exclude_the_runtime_say_so(tmp_path: Path) -> None:
    lock = write(
        tmp_path, "requirements.txt", 'a==1.0 ; python_version == "3.12" --hash=sha256:a\n'
    )
    with pytest.raises(BadInputError, match=r"no requirement applies to python3.13 on x86_64"):
        read_pins(LockSource(lock_file=lock), PY313)


def test_hash_policy(tmp_path: Path) -> None:
    lock = write(tmp_path, "requirements.txt", "a==1.0 --hash=sha256:a\nb==2.0\n")
    pins = read_pins(LockSource(lock_file=lock), X86)
    with pytest.raises(BadInputError, match=r"1 of 2 requirements have no hash \(b==2.0\)"):
        check_hashes(pins, allow_unhashed=False)
    assert check_hashes(pins, allow_unhashed=True) == ["b==2.0"]


@pytest.mark.parametrize(
    ("constraint", "runtime", "covered"),
    [
        ("~3.12", "3.12", True),
        ("~3.12", "3.13", False),
        ("^3.10", "3.13", True),
        (">=3.9,<3.12", "3.12", False),
        (">=3.9 <3.13", "3.12", True),
        ("3.11.*", "3.12", False),
        ("^3.8 || ~3.12", "3.12", True),
        (">=3.12.4", "3.12", True),  # some 3.12.x satisfies it
        ("*", "3.13", True),
    ],
)
def test_python_constraints(constraint: str, runtime: str, covered: bool) -> None:
    assert covers_python(python_constraint(constraint, source=Path("x")), runtime) is covered


def test_missing_lock_names_what_to_create(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match=r"poetry.lock, uv.lock, requirements.txt"):
        read_pins(LockSource(lock_file=tmp_path / "poetry.lock"), X86)


def test_example_lock_json_round_trip_is_stable() -> None:
    """The key input is canonical: reading the same lock twice gives equal pins."""
    lock = ENVIRONMENTS["staging"].lock_file
    assert lock is not None
    first = read_pins(LockSource(lock_file=lock), X86).as_key()
    assert json.dumps(first, sort_keys=True) == json.dumps(
        read_pins(LockSource(lock_file=lock), X86).as_key(), sort_keys=True
    )
