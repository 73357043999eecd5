"""The function package: include roots, excludes, generated files, symlinks, handlers, sizes."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import replace
from pathlib import Path, PurePosixPath

import pytest

from environments import FunctionConfig
from environments.packaging import PackageSpec
from scripts.build.backend import PackageSource, check_package_size, package_hash, zip_package
from scripts.build.handlers import check_handlers
from scripts.build.package_files import excluded, source_files
from scripts.build.version import resolve_version
from scripts.errors import BadInputError

SPEC = PackageSpec()


def make_backend(root: Path, extra: dict[str, str] | None = None) -> Path:
    for relative, text in {
        "app/__init__.py": "",
        "app/main.py": "from mangum import Mangum\napp = object()\nhandler = Mangum(app)\n",
        "app/__pycache__/main.cpython-312.pyc": "junk",
        "app/tests/test_main.py": "not packaged",
        "app/test_inline.py": "not packaged",
        "app/conftest.py": "not packaged",
        "app/Dockerfile.dev": "not packaged",
        "app/.env.local": "SECRET=1",
        "app/routes/items.py": "def list_items():\n    return []\n",
        "lambdas/__init__.py": "",
        "lambdas/cleanup/handler.py": "async def handler(e, c):\n    return 2\n",
        "VERSION": "1.0.0\n",
        "poetry.lock": "not packaged",
        "tests/test_x.py": "not packaged",
        "Dockerfile": "not packaged",
        **(extra or {}),
    }.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    return root


def names(backend: Path, spec: PackageSpec = SPEC) -> list[str]:
    return [name for name, _ in source_files(backend, spec)]


def test_only_include_roots_without_tests_dockerfiles_env_or_bytecode(tmp_path: Path) -> None:
    backend = make_backend(tmp_path / "b")
    assert names(backend) == [
        "VERSION",
        "app/__init__.py",
        "app/main.py",
        "app/routes/items.py",
        "lambdas/__init__.py",
        "lambdas/cleanup/handler.py",
    ]


@pytest.mark.parametrize(
    ("path", "is_dir", "patterns", "expected"),
    [
        ("app/tests", True, ("tests/",), True),
        ("app/tests", False, ("tests/",), False),  # a file named tests is not the directory
        ("app/x/test_a.py", False, ("test_*.py",), True),
        ("app/data/big.csv", False, ("app/data/*",), True),
        ("lambdas/data/big.csv", False, ("app/data/*",), False),
        ("app/Dockerfile", False, ("Dockerfile*",), True),
    ],
)
def test_exclude_globs(path: str, is_dir: bool, patterns: tuple[str, ...], expected: bool) -> None:
    assert excluded(PurePosixPath(path), is_dir=is_dir, patterns=patterns) is expected


def test_configured_roots_and_excludes(tmp_path: Path) -> None:
    backend = make_backend(tmp_path / "b", {"shared/util.py": "X = 1\n"})
    spec = PackageSpec(include=("app", "shared"), exclude=("routes/",))
    # Configured excludes replace the defaults: only routes/ is left out here.
    assert names(backend, spec) == [
        "app/.env.local",
        "app/Dockerfile.dev",
        "app/__init__.py",
        "app/__pycache__/main.cpython-312.pyc",
        "app/conftest.py",
        "app/main.py",
        "app/test_inline.py",
        "app/tests/test_main.py",
        "shared/util.py",
    ]
    with pytest.raises(BadInputError, match=r"missing nowhere: create it, or change"):
        names(backend, PackageSpec(include=("app", "nowhere")))


def test_a_symlink_out_of_the_backend_is_refused_naming_it(tmp_path: Path) -> None:
    secret = tmp_path / "home" / ".aws" / "credentials"
    secret.parent.mkdir(parents=True)
    secret.write_text("[default]\naws_secret_access_key = hunter2\n")
    backend = make_backend(tmp_path / "b")
    link = backend / "app" / "settings.ini"
    link.symlink_to(secret)
    with pytest.raises(BadInputError, match=rf"{link}: symlink to {secret}, outside"):
        source_files(backend, SPEC)
    link.unlink()
    (backend / "app" / "outside").symlink_to(secret.parent, target_is_directory=True)
    with pytest.raises(BadInputError, match="outside"):
        source_files(backend, SPEC)


def test_a_symlink_inside_the_backend_is_followed(tmp_path: Path) -> None:
    backend = make_backend(tmp_path / "b", {"shared/util.py": "X = 1\n"})
    (backend / "app" / "util.py").symlink_to(backend / "shared" / "util.py")
    (backend / "app" / "loop").symlink_to(backend / "app", target_is_directory=True)
    with pytest.raises(BadInputError, match="symlink loop"):
        source_files(backend, SPEC)
    (backend / "app" / "loop").unlink()
    files = dict(source_files(backend, SPEC))
    assert files["app/util.py"].read_text() == "X = 1\n"


def test_generated_version_info_is_deterministic(tmp_path: Path) -> None:
    backend = make_backend(tmp_path / "b")
    spec = PackageSpec(generated=("version_info.json",))
    source = PackageSource(
        backend_dir=backend, spec=spec, version=resolve_version(backend), git_commit="abc123"
    )
    first, entries = zip_package(source, tmp_path / "one" / "p.zip")
    assert "version_info.json" in dict(entries)
    info = json.loads(dict(entries)["version_info.json"].read_text())
    assert info == {"version": "1.0.0", "git_sha": "abc123", "deployed_at": None}
    again, _ = zip_package(source, tmp_path / "two" / "p.zip")
    assert again.sha256 == first.sha256
    other = replace(source, git_commit="def456")
    assert package_hash(other) != package_hash(source)


def _commit(backend: Path, when: str) -> None:
    """A commit of everything in `backend` at `when` (author and committer dates)."""
    identity = {"NAME": "t", "EMAIL": "t@example.invalid", "DATE": when}
    environ = {
        **os.environ,
        **{f"GIT_{w}_{k}": v for w in ("AUTHOR", "COMMITTER") for k, v in identity.items()},
    }
    if not (backend / ".git").exists():
        subprocess.run(["git", "-C", str(backend), "init", "-q"], check=True, env=environ)
    subprocess.run(["git", "-C", str(backend), "add", "."], check=True, env=environ)
    subprocess.run(
        ["git", "-C", str(backend), "commit", "-q", "--allow-empty", "-m", "x"],
        check=True,
        env=environ,
    )


def test_version_info_carries_what_the_app_reports_and_stays_content_addressed(
    tmp_path: Path,
) -> None:
    backend = make_backend(tmp_path / "b")
    _commit(backend, "2026-12-01T10:00:00+02:00")
    spec = PackageSpec(generated=("version_info.json",))

    source = PackageSource.resolve(backend, spec, environment="staging")
    _, entries = zip_package(source, tmp_path / "one" / "p.zip")
    info = json.loads(dict(entries)["version_info.json"].read_text())

    sha = subprocess.run(
        ["git", "-C", str(backend), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    # deployed_at: the commit's time (UTC), not the build's; no environment by default.
    assert info == {"version": "1.0.0", "git_sha": sha, "deployed_at": "2026-12-01T08:00:00Z"}
    # Built again (another day, another environment): the same package.
    assert package_hash(PackageSource.resolve(backend, spec, environment="prod")) == (
        package_hash(source)
    )
    _commit(backend, "2026-12-02T09:00:00Z")
    assert package_hash(PackageSource.resolve(backend, spec)) != package_hash(source)


def test_version_info_field_names_are_configurable_and_environment_is_opt_in(
    tmp_path: Path,
) -> None:
    backend = make_backend(tmp_path / "b")
    names = {"version": "app_version", "environment": "env", "git_sha": "commit"}
    spec = PackageSpec(generated=("version_info.json",), version_info_fields=names)

    staging = PackageSource.resolve(backend, spec, environment="staging")
    _, entries = zip_package(staging, tmp_path / "s" / "p.zip")

    info = json.loads(dict(entries)["version_info.json"].read_text())
    assert info == {"app_version": "1.0.0", "env": "staging", "commit": None}
    # The environment's name in the package: one package per environment.
    prod = PackageSource.resolve(backend, spec, environment="prod")
    assert package_hash(prod) != package_hash(staging)
    with pytest.raises(ValueError, match="version_info_fields: built_at; allowed: version"):
        PackageSpec(version_info_fields={"built_at": "now"})
    with pytest.raises(ValueError, match="non-empty, distinct"):
        PackageSpec(version_info_fields={"version": "v", "git_sha": "v"})


def test_version_from_flag_file_or_git(tmp_path: Path) -> None:
    backend = make_backend(tmp_path / "b")
    assert resolve_version(backend).value == "1.0.0"
    assert resolve_version(backend, "2.0.0").source == "--version"
    (backend / "VERSION").unlink()
    with pytest.raises(BadInputError, match=r"no VERSION file .*pass --version"):
        resolve_version(backend)
    identity = {"NAME": "t", "EMAIL": "t@example.invalid"}
    environ = {
        **os.environ,
        **{
            f"GIT_{who}_{key}": value
            for who in ("AUTHOR", "COMMITTER")
            for key, value in identity.items()
        },
    }
    for command in (["init", "-q"], ["add", "."], ["commit", "-qm", "x"], ["tag", "v3.1.0"]):
        subprocess.run(["git", "-C", str(backend), *command], check=True, env=environ)
    assert resolve_version(backend).value == "v3.1.0"
    source = PackageSource.resolve(backend, SPEC)
    _, entries = zip_package(source, tmp_path / "p.zip")
    assert dict(entries)["VERSION"].read_text() == "v3.1.0\n"
    with pytest.raises(BadInputError, match="not one token"):
        resolve_version(backend, "1.0 beta")


def test_both_sizes_are_checked(tmp_path: Path) -> None:
    backend = make_backend(tmp_path / "b")
    (backend / "app" / "blob.bin").write_bytes(os.urandom(4096))
    (backend / "app" / "zeros.txt").write_text("0" * 100_000)
    source = PackageSource.resolve(backend, SPEC)
    built, entries = zip_package(source, tmp_path / "p.zip")
    small_zip = replace(SPEC, max_zip_bytes=1024)
    with pytest.raises(BadInputError, match=r"zipped \(limit 1,024\).*app/zeros.txt"):
        check_package_size(entries, built, small_zip)
    small_unzipped = replace(SPEC, max_unzipped_bytes=50_000)
    with pytest.raises(BadInputError, match=r"unzipped \(limit 50,000\)"):
        check_package_size(entries, built, small_unzipped)
    check_package_size(entries, built, SPEC)


def test_handlers_must_exist_in_the_package(tmp_path: Path) -> None:
    backend = make_backend(tmp_path / "b")
    entries = source_files(backend, SPEC)
    good = (
        FunctionConfig(name="api", handler="app.main.handler"),
        FunctionConfig(name="cleanup", handler="lambdas.cleanup.handler.handler"),
    )
    check_handlers(good, entries)
    bad = (
        FunctionConfig(name="api", handler="app.main.app_handler"),
        FunctionConfig(name="db-sync", handler="lambdas.db_sync.handler.handler"),
    )
    with pytest.raises(BadInputError) as caught:
        check_handlers(bad, entries)
    message = str(caught.value)
    assert (
        "function api (handler app.main.app_handler): app/main.py defines no `app_handler`"
        in message
    )
    expected = "function db-sync (handler lambdas.db_sync.handler.handler): "
    assert f"{expected}lambdas/db_sync/handler.py is not in the package" in message
