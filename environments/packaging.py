"""How a backend becomes artifacts: its lock, its bytecode policy, its function package.

One `BackendSpec` per environment (the `backend` field of `Environment`). The build reads
it; deploy recomputes artifact names from it, so both always agree on what the package
holds and which pins the layer installs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from types import MappingProxyType

from environments.errors import ConfigError

# Lock formats the layer builder reads directly; "auto" picks by file name.
LOCK_FORMATS = ("auto", "poetry", "uv", "requirements")
# Looked for in this order when no lock file is configured: the first that exists wins.
LOCK_CANDIDATES = ("poetry.lock", "uv.lock", "requirements.txt")
# Files the function package may generate instead of reading them from the backend.
GENERATED_FILES = ("VERSION", "version_info.json")
# What `version_info.json` can carry (the running app reads it, e.g. for /health/version):
# version, git_sha (HEAD), deployed_at (HEAD's commit time, not the build's: the same
# commit gives the same bytes) and environment (the environment's name: this makes the
# package per environment, so it is left out unless asked for).
VERSION_INFO_FIELDS = ("version", "git_sha", "deployed_at", "environment")
DEFAULT_VERSION_INFO = MappingProxyType(
    {"version": "version", "git_sha": "git_sha", "deployed_at": "deployed_at"}
)

# The design's promise: code-only packages under 1 MB zipped.
DEFAULT_MAX_ZIP_BYTES = 1024 * 1024
# Python source compresses about 4:1, so a package near the zipped limit unzips to ~4 MB;
# a larger tree means data or vendored dependencies crept into the code.
DEFAULT_MAX_UNZIPPED_BYTES = 5 * 1024 * 1024


def _relative(field_name: str, value: str) -> None:
    path = PurePosixPath(value.rstrip("/"))
    if not value or path.is_absolute() or ".." in path.parts:
        raise ConfigError(f"{field_name}: got {value!r}; use a path relative to the backend")


@dataclass(frozen=True, kw_only=True)
class PackageSpec:
    """What the function package holds: include roots, exclude globs, generated files."""

    # Directories or files under the backend directory, zipped under the same names.
    include: tuple[str, ...] = ("app", "lambdas", "VERSION")
    # Globs: `NAME/` matches a directory at any depth, a pattern with `/` matches the
    # path from the backend directory, anything else a file or directory name anywhere.
    exclude: tuple[str, ...] = (
        "tests/",
        "test_*.py",
        "conftest.py",
        "__pycache__",
        "*.pyc",
        "*.pyo",
        "Dockerfile*",
        ".env*",
        ".DS_Store",
    )
    # Written into the package by the build: `VERSION` (when the backend has no such file)
    # and `version_info.json` (`version_info_fields`; no build time, so the zip stays
    # byte-identical). The commit changes the package hash on every commit: opt in.
    generated: tuple[str, ...] = ()
    # version_info.json's content: which of VERSION_INFO_FIELDS, under which JSON names.
    version_info_fields: Mapping[str, str] = field(default_factory=lambda: DEFAULT_VERSION_INFO)
    max_zip_bytes: int = DEFAULT_MAX_ZIP_BYTES
    max_unzipped_bytes: int = DEFAULT_MAX_UNZIPPED_BYTES

    def __post_init__(self) -> None:
        if not self.include:
            raise ConfigError("package.include: at least one directory or file is required")
        for root in self.include:
            _relative("package.include", root)
        for name in self.generated:
            if name not in GENERATED_FILES:
                raise ConfigError(
                    f"package.generated: got {name!r}; allowed: {', '.join(GENERATED_FILES)}"
                )
        unknown = sorted(set(self.version_info_fields) - set(VERSION_INFO_FIELDS))
        if unknown:
            raise ConfigError(
                f"package.version_info_fields: {', '.join(unknown)}; "
                f"allowed: {', '.join(VERSION_INFO_FIELDS)}"
            )
        names = list(self.version_info_fields.values())
        if not all(names) or len(set(names)) != len(names):
            raise ConfigError("package.version_info_fields: JSON names must be non-empty, distinct")
        object.__setattr__(
            self, "version_info_fields", MappingProxyType(dict(self.version_info_fields))
        )
        for name, value in (
            ("max_zip_bytes", self.max_zip_bytes),
            ("max_unzipped_bytes", self.max_unzipped_bytes),
        ):
            if value <= 0:
                raise ConfigError(f"package.{name}: got {value}; must be positive")


@dataclass(frozen=True, kw_only=True)
class BackendSpec:
    """The lock format, the layer's bytecode policy and the function package's shape."""

    # "auto": poetry.lock, uv.lock or a requirements file, by the lock file's name.
    lock_format: str = "auto"
    # Compile the layer for the runtime (unchecked-hash .pyc): Lambda's /opt is read-only,
    # so a layer without bytecode is compiled again on every cold start.
    bytecode: bool = True
    # Requirements without hashes are refused unless this (or --allow-unhashed) is set.
    allow_unhashed: bool = False
    package: PackageSpec = field(default_factory=PackageSpec)

    def __post_init__(self) -> None:
        if self.lock_format not in LOCK_FORMATS:
            raise ConfigError(
                f"backend.lock_format: got {self.lock_format!r}; allowed: {', '.join(LOCK_FORMATS)}"
            )


def detect_lock_file(backend_dir: Path) -> Path:
    """The backend's lock: the first of LOCK_CANDIDATES that exists (poetry.lock if none)."""
    for name in LOCK_CANDIDATES:
        if (backend_dir / name).is_file():
            return backend_dir / name
    return backend_dir / LOCK_CANDIDATES[0]


def lock_format_of(path: Path, configured: str = "auto") -> str:
    """The format a lock file is read as: the configured one, else by its name."""
    if configured != "auto":
        return configured
    if path.name == "poetry.lock":
        return "poetry"
    if path.name == "uv.lock":
        return "uv"
    return "requirements"
