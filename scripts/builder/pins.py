"""The one pinned form every lock format is read into, and the target it is read for.

A lock records more than one machine needs: dev groups, packages for other platforms,
Python versions and extras. Each reader walks its format and keeps exactly the packages
Lambda's runtime and architecture install, with their versions and file hashes. Those
pins (not the lock's bytes) are what the cache key covers, so a lock edit that changes
nothing Lambda installs (a dev dependency, a comment) reuses the layer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.markers import InvalidMarker, Marker, UndefinedComparison, UndefinedEnvironmentName
from packaging.specifiers import InvalidSpecifier, SpecifierSet

from scripts.errors import BadInputError

# Lambda's runtimes run CPython on Linux; its exact patch release is not published ahead,
# so `python_full_version` is evaluated as X.Y.0 (documented in the README).
_MACHINE = {"x86_64": "x86_64", "arm64": "aarch64"}


def normalize_name(name: str) -> str:
    """PEP 503: `Typing_Extensions` and `typing-extensions` are one project."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True, kw_only=True)
class MarkerTarget:
    """The runtime and CPU whose markers a lock is evaluated for."""

    python_version: str  # "3.12"
    architecture: str  # "x86_64" | "arm64"

    @property
    def runtime(self) -> str:
        return f"python{self.python_version}"

    @property
    def describe(self) -> str:
        return f"{self.runtime} on {self.architecture}"

    def environment(self) -> dict[str, str]:
        full = f"{self.python_version}.0"
        return {
            "implementation_name": "cpython",
            "implementation_version": full,
            "os_name": "posix",
            "platform_machine": _MACHINE[self.architecture],
            "platform_python_implementation": "CPython",
            "platform_release": "",
            "platform_system": "Linux",
            "platform_version": "",
            "python_full_version": full,
            "python_version": self.python_version,
            "sys_platform": "linux",
            "extra": "",
        }


def marker_applies(marker: str | None, target: MarkerTarget, *, source: Path) -> bool:
    """Whether a PEP 508 marker holds on the target; None or "" always holds."""
    if not marker:
        return True
    try:
        return bool(Marker(marker).evaluate(target.environment()))
    except (InvalidMarker, UndefinedComparison, UndefinedEnvironmentName) as err:
        raise BadInputError(
            f"{source}: cannot evaluate the marker {marker!r} ({err}): regenerate the lock"
        ) from None


@dataclass(frozen=True, kw_only=True)
class Pin:
    """One distribution to install: exact version and the hashes of its files."""

    name: str
    version: str
    # "sha256:HEX", sorted; empty when the lock records none (refused unless allowed).
    hashes: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class LockedPins:
    """What a lock installs on one target, in one normalized form."""

    source: Path
    lock_format: str
    pins: tuple[Pin, ...]
    # Package indexes the lock resolved against (the requirements' --index-url etc.).
    indexes: tuple[str, ...] = ()
    # The Python versions the lock was made for, as written there (for messages).
    python_constraint: str | None = None

    def versions(self) -> dict[str, str]:
        return {pin.name: pin.version for pin in self.pins}

    def unhashed(self) -> list[str]:
        return [f"{pin.name}=={pin.version}" for pin in self.pins if not pin.hashes]

    def as_key(self) -> dict[str, object]:
        return {
            "pins": [[pin.name, pin.version, list(pin.hashes)] for pin in self.pins],
            "indexes": list(self.indexes),
        }


def index_options(urls: Sequence[str]) -> tuple[str, ...]:
    """Installer options for the indexes a lock resolved against: the first is the index."""
    if not urls:
        return ()
    return (f"--index-url {urls[0]}", *(f"--extra-index-url {url}" for url in urls[1:]))


def sorted_pins(pins: Iterable[Pin], *, source: Path) -> tuple[Pin, ...]:
    """One pin per name, sorted; two versions of one name on one target is a broken lock."""
    by_name: dict[str, Pin] = {}
    for pin in pins:
        other = by_name.get(pin.name)
        if other is None:
            by_name[pin.name] = pin
            continue
        if other.version != pin.version:
            raise BadInputError(
                f"{source}: {pin.name} is locked at {other.version} and {pin.version} for the "
                "same target: regenerate the lock"
            )
        hashes = tuple(sorted({*other.hashes, *pin.hashes}))
        by_name[pin.name] = Pin(name=pin.name, version=pin.version, hashes=hashes)
    return tuple(by_name[name] for name in sorted(by_name))


def read_text(path: Path, what: str, fix: str) -> str:
    """A text input, or one line naming the file and the fix (missing, binary, unreadable)."""
    if path.is_dir():
        raise BadInputError(f"{what} {path} is a directory: {fix}")
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise BadInputError(f"{what} not found at {path}: {fix}") from None
    except UnicodeDecodeError:
        raise BadInputError(f"{what} {path} is not UTF-8 text (a binary file?): {fix}") from None
    except OSError as err:
        raise BadInputError(f"{what} {path}: cannot read ({err.strerror}): {fix}") from None


# --- Python version constraints ------------------------------------------------------------

_POETRY_TOKEN = re.compile(r"^(?P<op>\^|~=|~|===|==|!=|>=|<=|>|<)?\s*(?P<version>[0-9][^\s,]*)$")


def _bump(parts: Sequence[int], index: int) -> str:
    bumped = [*parts[:index], parts[index] + 1]
    return ".".join(str(p) for p in bumped)


def _poetry_token(token: str) -> list[str]:
    """One poetry constraint token (`^3.10`, `~3.12`, `3.12.*`, `>=3.9`) as PEP 440 clauses."""
    if token in {"*", ""}:
        return []
    match = _POETRY_TOKEN.match(token)
    if not match:
        raise ValueError(token)
    op, version = match["op"] or "", match["version"]
    if version.endswith(".*"):
        return [f"{'!=' if op == '!=' else '=='}{version}"]
    if op in {"^", "~"}:
        parts = [int(p) for p in version.split(".")]
        if op == "^":
            first = next((i for i, p in enumerate(parts) if p != 0), len(parts) - 1)
            upper = _bump(parts, first)
        else:
            upper = _bump(parts, 1 if len(parts) > 1 else 0)
        return [f">={version}", f"<{upper}"]
    return [f"{op or '=='}{version}"]


def python_constraint(text: str, *, source: Path) -> list[SpecifierSet]:
    """A Python constraint (poetry's `~3.12`, `^3.10 || ^4`, or PEP 440) as alternatives."""
    if "||" not in text:
        try:
            return [SpecifierSet(text)]
        except InvalidSpecifier:
            pass  # poetry's own syntax: ~3.12, ^3.10, 3.12.*
    alternatives: list[SpecifierSet] = []
    try:
        for alternative in text.split("||"):
            clauses: list[str] = []
            for token in re.split(r"\s*,\s*|\s+(?=[\^~<>=!0-9*])", alternative.strip()):
                clauses.extend(_poetry_token(token.strip()))
            alternatives.append(SpecifierSet(",".join(clauses)))
    except (ValueError, InvalidSpecifier):
        raise BadInputError(
            f"{source}: cannot read the Python constraint {text!r}: regenerate the lock"
        ) from None
    return alternatives


def covers_python(alternatives: Sequence[SpecifierSet], python_version: str) -> bool:
    """Whether any X.Y.z of the runtime's minor version satisfies the constraint."""
    return any(
        spec.contains(f"{python_version}.{patch}", prereleases=True)
        for spec in alternatives
        for patch in range(100)
    )


def check_python(constraint: str | None, target: MarkerTarget, *, source: Path, fix: str) -> None:
    """Refuse a runtime the lock was not made for, naming the lock's own constraint."""
    if not constraint:
        return
    if not covers_python(python_constraint(constraint, source=source), target.python_version):
        raise BadInputError(
            f"{source}: locked for Python {constraint!r}, which excludes {target.runtime}: "
            f"build with a --runtime it covers, or {fix}"
        )


def pin_differences(lock: Mapping[str, str], other: Mapping[str, str]) -> list[str]:
    """Every way a second pin list disagrees with the lock, one readable line each."""
    differences: list[str] = []
    for name in sorted(set(lock) | set(other)):
        locked, wanted = lock.get(name), other.get(name)
        if locked is None:
            differences.append(f"{name}: {wanted} in requirements, not in the lock")
        elif wanted is None:
            differences.append(f"{name}: {locked} in the lock, missing from requirements")
        elif wanted != locked:
            differences.append(f"{name}: requirements {wanted}, lock {locked}")
    return differences
