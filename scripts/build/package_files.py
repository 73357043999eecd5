"""What goes into the function package: include roots, exclude globs, generated files.

Only the configured roots (default `app/`, `lambdas/`, `VERSION`) are walked; tests,
Dockerfiles, `.env` files and bytecode are excluded by default. A symlink is followed
only when it resolves inside the backend directory: one pointing elsewhere would copy
that file (credentials, a home directory) into a package uploaded to S3, so it is
refused, naming the link. Generated files (`VERSION`, `version_info.json`) carry no build
time (`deployed_at` is the commit's time), so the same sources and commit always give the
same zip.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath

from environments.packaging import PackageSpec
from scripts.errors import BadInputError

VERSION_FILE = "VERSION"
VERSION_INFO = "version_info.json"


def excluded(relative: PurePosixPath, *, is_dir: bool, patterns: Sequence[str]) -> bool:
    """Whether a path (relative to the backend directory) matches an exclude glob."""
    for pattern in patterns:
        if pattern.endswith("/"):
            body = pattern.rstrip("/")
            target = relative.as_posix() if "/" in body else relative.name
            if is_dir and fnmatchcase(target, body):
                return True
        elif "/" in pattern:
            if fnmatchcase(relative.as_posix(), pattern):
                return True
        elif fnmatchcase(relative.name, pattern):
            return True
    return False


def _inside(backend_dir: Path, link: Path) -> Path:
    """Where a symlink leads, if that is inside the backend; else refuse, naming it."""
    target = link.resolve()
    if not link.exists():
        raise BadInputError(
            f"{link}: broken symlink (to {link.readlink()}): remove it or fix its target"
        )
    if not target.is_relative_to(backend_dir.resolve()):
        raise BadInputError(
            f"{link}: symlink to {target}, outside {backend_dir}: the package would carry "
            "that file's content; copy what the code needs into the backend or remove the link"
        )
    return target


@dataclass
class _Walk:
    backend_dir: Path
    spec: PackageSpec
    found: list[tuple[str, Path]]
    # Real directories already walked: a symlink back up the tree must not loop.
    visited: set[Path]

    def add(self, path: Path, name: PurePosixPath) -> None:
        is_link = path.is_symlink()
        real = _inside(self.backend_dir, path) if is_link else path
        is_dir = real.is_dir()
        if excluded(name, is_dir=is_dir, patterns=self.spec.exclude):
            return
        if is_dir:
            resolved = real.resolve()
            if resolved in self.visited:
                raise BadInputError(
                    f"{path}: symlink loop (reaches {resolved} again): remove the link"
                )
            self.visited.add(resolved)
            for child in sorted(real.iterdir(), key=lambda p: p.name):
                self.add(path / child.name, name / child.name)
            self.visited.discard(resolved)
        elif real.is_file():
            self.found.append((name.as_posix(), real))


def source_files(backend_dir: Path, spec: PackageSpec) -> list[tuple[str, Path]]:
    """(archive name, source) of every file the include roots hold, excludes applied."""
    if not backend_dir.is_dir():
        raise BadInputError(f"backend directory {backend_dir} does not exist: check backend_dir")
    walk = _Walk(backend_dir=backend_dir, spec=spec, found=[], visited=set())
    missing = []
    for root in spec.include:
        path = backend_dir / root.rstrip("/")
        if not path.exists() and not path.is_symlink():
            if root != VERSION_FILE:  # the version may come from --version or git instead
                missing.append(root)
            continue
        walk.add(path, PurePosixPath(root.rstrip("/")))
    if missing:
        raise BadInputError(
            f"{backend_dir}: missing {', '.join(missing)}: create it, or change the package's "
            "include roots (environments: backend.package.include)"
        )
    return sorted(walk.found)


@dataclass(frozen=True, kw_only=True)
class Stamp:
    """What generated files say about the build: nothing that changes without a commit."""

    version: str
    git_commit: str | None = None
    commit_time: str | None = None
    environment: str | None = None

    def version_info(self, spec: PackageSpec) -> dict[str, str | None]:
        values = {
            "version": self.version,
            "git_sha": self.git_commit,
            "deployed_at": self.commit_time,
            "environment": self.environment,
        }
        return {name: values[field] for field, name in spec.version_info_fields.items()}


def generated_files(spec: PackageSpec, *, stamp: Stamp, dest: Path) -> list[tuple[str, Path]]:
    """Write the generated files into `dest`; (archive name, path) of each."""
    contents: dict[str, str] = {}
    if VERSION_FILE in spec.include or VERSION_FILE in spec.generated:
        contents[VERSION_FILE] = f"{stamp.version}\n"
    if VERSION_INFO in spec.generated:
        info = stamp.version_info(spec)
        contents[VERSION_INFO] = json.dumps(info, sort_keys=True, indent=2) + "\n"
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in sorted(contents.items()):
        (dest / name).write_text(text, encoding="utf-8")
        written.append((name, dest / name))
    return written


def package_entries(
    backend_dir: Path, spec: PackageSpec, *, stamp: Stamp, scratch: Path
) -> list[tuple[str, Path]]:
    """Every entry of the package: source files, with generated files replacing same names."""
    generated = generated_files(spec, stamp=stamp, dest=scratch)
    names = {name for name, _ in generated}
    kept = [(name, path) for name, path in source_files(backend_dir, spec) if name not in names]
    return sorted([*kept, *generated])


def estimated_unzipped_bytes(backend_dir: Path, spec: PackageSpec) -> int:
    """The package's unzipped size for the layer's budget, without failing the layer build
    over package problems (build-backend reports those)."""
    try:
        return sum(path.stat().st_size for _, path in source_files(backend_dir, spec))
    except (BadInputError, OSError):
        return 0
