"""Any accepted lock -> the pins for one target, checked, and the file the installer reads.

Accepted: `poetry.lock` (Poetry 2, lock-version 2.1), `uv.lock`, and fully pinned
requirements files with hashes (pip-compile, `uv export`, `poetry export`). An optional
second, exported requirements file is checked against the lock instead of being trusted.
Hashes are always checked: a requirement without one is refused unless the build is
explicitly allowed to go unhashed, which its manifest then records.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from environments.packaging import LOCK_CANDIDATES, lock_format_of
from scripts.build.pins import LockedPins, MarkerTarget, pin_differences, read_text
from scripts.build.poetry_lock import read_poetry_lock
from scripts.build.requirements import read_requirements
from scripts.build.uv_lock import read_uv_lock
from scripts.errors import BadInputError

Reader = Callable[[Path, str, MarkerTarget], LockedPins]
READERS: Mapping[str, Reader] = {
    "poetry": read_poetry_lock,
    "uv": read_uv_lock,
    "requirements": read_requirements,
}
HASH_FIX = (
    "point the build at the lock itself (poetry.lock and uv.lock record hashes; no export "
    "needed), or export with hashes (`uv export`, `pip-compile --generate-hashes`, `poetry "
    "export` without --without-hashes: Poetry 2 needs `poetry self add poetry-plugin-export`), "
    "or pass --allow-unhashed to build without hash checking (recorded in the manifest)"
)


@dataclass(frozen=True, kw_only=True)
class LockSource:
    """Where the pins come from: the lock, its format, and an optional exported copy."""

    lock_file: Path
    lock_format: str = "auto"
    requirements_file: Path | None = None

    @property
    def resolved_format(self) -> str:
        return lock_format_of(self.lock_file, self.lock_format)


def _missing_lock_fix(path: Path) -> str:
    return (
        f"put one of {', '.join(LOCK_CANDIDATES)} in {path.parent} (`poetry lock`, `uv lock`, "
        "`pip-compile --generate-hashes`) or configure the lock file"
    )


def read_pins(source: LockSource, target: MarkerTarget) -> LockedPins:
    """The pins `target` installs, with the optional requirements file checked against them."""
    lock_format = source.resolved_format
    if lock_format not in READERS:
        raise BadInputError(
            f"lock format {lock_format!r} for {source.lock_file}: use one of {', '.join(READERS)}"
        )
    text = read_text(source.lock_file, "lock file", _missing_lock_fix(source.lock_file))
    pins = READERS[lock_format](source.lock_file, text, target)
    if not pins.pins:
        raise BadInputError(
            f"{source.lock_file}: no runtime packages for {target.describe}: add dependencies to "
            "the project's main group and lock again (the layer would be empty)"
        )
    extra = source.requirements_file
    if extra is not None and extra.resolve() != source.lock_file.resolve():
        exported = read_requirements(
            extra, read_text(extra, "requirements file", "re-export it or unset it"), target
        )
        differences = pin_differences(pins.versions(), exported.versions())
        if differences:
            raise BadInputError(
                f"{extra} does not match {source.lock_file} ({len(differences)} differences: "
                f"{'; '.join(differences[:8])}): re-export it from the lock, or drop the "
                "requirements file from the configuration (the lock is read directly)"
            )
    return pins


def check_hashes(pins: LockedPins, *, allow_unhashed: bool) -> list[str]:
    """Refuse unhashed pins unless allowed; returns them (recorded in the manifest)."""
    unhashed = pins.unhashed()
    if unhashed and not allow_unhashed:
        listing = ", ".join(unhashed[:6]) + (
            f" and {len(unhashed) - 6} more" if len(unhashed) > 6 else ""
        )
        raise BadInputError(
            f"{pins.source}: {len(unhashed)} of {len(pins.pins)} requirements have no hash "
            f"({listing}): {HASH_FIX}"
        )
    return unhashed


def installer_requirements(pins: LockedPins) -> str:
    """The flat, marker-free file uv installs: every pin with its hashes, index options first.

    Markers were already evaluated for the target, so uv sees exactly what Lambda gets,
    whatever Python and platform this host runs.
    """
    lines = [*pins.indexes]
    for pin in pins.pins:
        hashes = "".join(f" \\\n    --hash={digest}" for digest in pin.hashes)
        lines.append(f"{pin.name}=={pin.version}{hashes}")
    return "\n".join(lines) + "\n"
