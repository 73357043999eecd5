"""The package's version: `--version`, else the backend's `VERSION` file, else `git describe`.

Resolved only by the commands that ship it (build-backend, deploy's name check), before
anything is built, so a missing version fails in a second, not after an install.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from scripts.errors import BadInputError

VERSION_FILE = "VERSION"
# One token: it lands in file names, manifests and Lambda descriptions.
_VALID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+\-]{0,127}$")


@dataclass(frozen=True, kw_only=True)
class Version:
    value: str
    source: str  # "--version", the VERSION file's path, or "git describe"


def git(backend_dir: Path, *args: str) -> str | None:
    """Output of a git command in the backend's repository; None outside one."""
    binary = shutil.which("git")
    if binary is None:
        return None
    done = subprocess.run(
        [binary, "-C", str(backend_dir), *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        return None
    return done.stdout.strip() or None


def git_commit(backend_dir: Path) -> str | None:
    return git(backend_dir, "rev-parse", "HEAD")


def git_commit_time(backend_dir: Path) -> str | None:
    """HEAD's commit time in UTC (ISO 8601): the same commit always gives the same value."""
    stamp = git(backend_dir, "show", "-s", "--format=%ct", "HEAD")
    if stamp is None or not stamp.isdigit():
        return None
    return datetime.fromtimestamp(int(stamp), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _checked(value: str, source: str, fix: str) -> Version:
    if not _VALID.match(value):
        raise BadInputError(f"{source}: version {value!r} is not one token like 1.4.0: {fix}")
    return Version(value=value, source=source)


def resolve_version(backend_dir: Path, override: str | None = None) -> Version:
    if override is not None:
        return _checked(override.strip(), "--version", "pass a version like 1.4.0")
    path = backend_dir / VERSION_FILE
    if path.is_file():
        try:
            text = path.read_text(encoding="utf-8").strip()
        except (UnicodeDecodeError, OSError):
            raise BadInputError(f"{path}: not readable text: write the version (1.4.0)") from None
        return _checked(text, str(path), f"write one version line into {path}")
    described = git(backend_dir, "describe", "--tags", "--always")
    if described:
        return _checked(described, "git describe", "tag the commit (git tag v1.4.0)")
    raise BadInputError(
        f"{path}: no VERSION file and no git history to describe: write {path}, pass "
        "--version, or build from a git checkout"
    )
