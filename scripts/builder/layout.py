"""The layer's directory layout: what stays under `python/`, what is pruned, what weighs most.

Lambda puts `/opt/python` on `sys.path`, so the layer holds `python/<packages>`. Bytecode
shipped in wheels is dropped (it was compiled for another interpreter, with timestamps);
the build compiles its own for the runtime afterwards (scripts/builder/bytecode.py). `bin/`
is dropped because its console scripts carry a shebang naming the build host's Python.
`*.dist-info` stays: `importlib.metadata` needs it. What was removed is also removed from
each RECORD: those lines carry hashes of the host-specific scripts, so keeping them would
make the layer's bytes depend on the installing virtual environment's path.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

LAYER_ROOT = "python"
# Installer bookkeeping inside a dist-info: uv records when it cached the wheel.
INSTALLER_FILES = ("uv_cache.json",)


@dataclass(frozen=True, kw_only=True)
class PruneOptions:
    """What the build removes; part of the cache key, since it changes the layer's bytes."""

    drop_bytecode: bool = True
    drop_scripts: bool = True
    # Extra glob patterns (relative to python/) removed as well, e.g. "*/tests".
    extra_patterns: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for pattern in self.extra_patterns:
            if pattern.startswith("/") or ".." in PurePosixPath(pattern).parts:
                raise ValueError(f"prune.extra_patterns: {pattern!r} must stay inside python/")

    def as_key(self) -> Mapping[str, object]:
        return {
            "drop_bytecode": self.drop_bytecode,
            "drop_scripts": self.drop_scripts,
            "extra_patterns": sorted(self.extra_patterns),
        }


DEFAULT_PRUNE = PruneOptions()


def prune(site_dir: Path, options: PruneOptions) -> list[str]:
    """Remove what the layer must not carry; returns what was removed, relative, sorted."""
    doomed: set[Path] = set()
    if options.drop_bytecode:
        doomed.update(site_dir.rglob("__pycache__"))
        doomed.update(site_dir.rglob("*.pyc"))
        doomed.update(site_dir.rglob("*.pyo"))
    if options.drop_scripts and (site_dir / "bin").is_dir():
        doomed.add(site_dir / "bin")
    # Installer bookkeeping at the top of the target (uv's `.lock`), never package content.
    doomed.update(path for path in site_dir.glob(".*") if path.is_file())
    for name in INSTALLER_FILES:
        doomed.update(site_dir.glob(f"*.dist-info/{name}"))
    for pattern in options.extra_patterns:
        doomed.update(site_dir.glob(pattern))
    removed: list[str] = []
    # Parents first, so a file inside an already removed directory is skipped.
    for path in sorted(doomed, key=lambda p: len(p.parts)):
        if not path.exists() and not path.is_symlink():
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
        removed.append(path.relative_to(site_dir).as_posix())
    rewrite_records(site_dir)
    return sorted(removed)


def rewrite_records(site_dir: Path) -> int:
    """Drop RECORD lines naming files that are no longer in the layer; returns how many."""
    dropped = 0
    for record in sorted(site_dir.glob("*.dist-info/RECORD")):
        kept: list[str] = []
        for line in record.read_text(encoding="utf-8", errors="surrogateescape").splitlines():
            relative = line.split(",", 1)[0]
            if relative:
                # RECORD names itself without a hash; every other named file must be here.
                path = Path(os.path.normpath(site_dir / relative))
                if path != record and not (path.is_relative_to(site_dir) and path.is_file()):
                    dropped += 1
                    continue
            kept.append(line)
        record.write_text(
            "".join(f"{line}\n" for line in kept), encoding="utf-8", errors="surrogateescape"
        )
    return dropped


def distribution_sizes(site_dir: Path) -> dict[str, int]:
    """Bytes on disk per installed distribution, from each `RECORD` (files that still exist).

    Files no RECORD claims (rare) are counted under their top-level name.
    """
    sizes: dict[str, int] = {}
    claimed: set[str] = set()
    for record in sorted(site_dir.glob("*.dist-info/RECORD")):
        name = record.parent.name.removesuffix(".dist-info").rsplit("-", 1)[0]
        total = 0
        for line in record.read_text(encoding="utf-8", errors="replace").splitlines():
            relative = line.split(",", 1)[0]
            if not relative:
                continue
            # normpath, not resolve(): RECORD paths may climb out (../../bin) and resolving
            # thousands of paths costs seconds.
            path = os.path.normpath(site_dir / relative)
            if path in claimed:
                continue
            try:
                size = Path(path).stat().st_size
            except (FileNotFoundError, NotADirectoryError):
                continue  # pruned, or never installed (scripts outside the target)
            claimed.add(path)
            total += size
        sizes[name] = sizes.get(name, 0) + total
    for leftover in site_dir.rglob("*"):
        if leftover.is_file() and os.path.normpath(leftover) not in claimed:
            top = leftover.relative_to(site_dir).parts[0]
            sizes[top] = sizes.get(top, 0) + leftover.stat().st_size
    return sizes


def largest(sizes: Mapping[str, int], count: int = 10) -> list[tuple[str, int]]:
    return sorted(sizes.items(), key=lambda item: (-item[1], item[0]))[:count]
