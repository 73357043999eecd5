"""What a layer build is asked for and what it answers (scripts/build/layer.py builds it)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from environments import REPO_ROOT
from scripts.build.budget import LAMBDA_UNZIPPED_LIMIT
from scripts.build.layer_publish import Latest
from scripts.build.layout import DEFAULT_PRUNE, PruneOptions
from scripts.build.lockfile import LockSource

# In the checkout, wherever the command runs from (`layers` works from any folder).
DEFAULT_MANIFEST = REPO_ROOT / "build" / "layer-manifest.json"


@dataclass(frozen=True, kw_only=True)
class LayerRequest:
    lock: LockSource
    runtime: str
    architecture: str
    build_dir: Path
    manifest_path: Path = DEFAULT_MANIFEST
    # The largest function package's unzipped size: it counts against the same limit.
    function_bytes: int = 0
    prune: PruneOptions = DEFAULT_PRUNE
    # Compile `unchecked-hash` bytecode for the runtime (part of the cache key).
    bytecode: bool = True
    # Build even when requirements carry no hashes (recorded in the manifest).
    allow_unhashed: bool = False
    # Whether `layer.zip` may move: only for the environment's own runtime and architecture.
    latest: Latest = field(default_factory=Latest)
    size_limit: int = LAMBDA_UNZIPPED_LIMIT
    # Extra installer arguments, e.g. ("--no-index", "--find-links", DIR) for offline builds.
    index_args: tuple[str, ...] = ()
    uv: str | None = None
    # The interpreter uv installs against (None: this one); its path must not matter.
    installer_python: str | None = None
    # Prefix for reported keys when the store is a directory (S3 stores know their keys).
    key_prefix: str = ""
    # Where the install is staged before zipping (a temporary folder is made and removed
    # inside it); None: inside build_dir. See `scratch_root` for why a RAM disk helps.
    scratch_dir: Path | None = None

    def __post_init__(self) -> None:
        if self.size_limit <= 0:
            raise ValueError(f"size_limit: got {self.size_limit}; must be positive")


@dataclass(frozen=True, kw_only=True)
class LayerResult:
    manifest: Mapping[str, Any]
    built: bool
    latest_updated: bool
    store: str
    manifest_path: Path
    # Why layer.zip was left alone ("" when this build may move it).
    latest_skipped: str = ""
    largest_packages: Sequence[tuple[str, int]] = field(default_factory=tuple)
    zip_path: Path | None = None

    def as_json(self) -> Mapping[str, Any]:
        return {
            **self.manifest,
            "built": self.built,
            "latest_updated": self.latest_updated,
            "latest_skipped": self.latest_skipped or None,
            "store": self.store,
            "manifest": str(self.manifest_path),
            "largest_packages": [
                {"name": name, "bytes": size} for name, size in self.largest_packages
            ],
            "path": None if self.zip_path is None else str(self.zip_path),
        }
