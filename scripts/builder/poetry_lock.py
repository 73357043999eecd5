"""`poetry.lock` read directly: no `poetry export`, no plugin, no second file to sync.

Poetry 2's lock format (`lock-version = "2.1"`) records each package's groups and the
markers under which it is installed, so the main group for one target is a filter, not a
resolution. Older locks record neither (1.x only a category) and would need poetry's own
dependency walk from `pyproject.toml`; they are refused with the fix (`poetry lock` with
Poetry >= 2 rewrites them as 2.1).

Poetry's `content-hash` is a sha256 over the dependency sections of `pyproject.toml`; a lock
whose hash differs is out of date, and installing it would silently ignore the edit.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scripts.builder.pins import (
    LockedPins,
    MarkerTarget,
    Pin,
    check_python,
    index_options,
    marker_applies,
    normalize_name,
    read_text,
    sorted_pins,
)
from scripts.errors import BadInputError

MIN_LOCK_VERSION = (2, 1)
_LEGACY_KEYS = ("dependencies", "source", "extras", "dev-dependencies")
_RELEVANT_KEYS = (*_LEGACY_KEYS, "group")
_RELEVANT_PROJECT_KEYS = ("requires-python", "dependencies", "optional-dependencies")
_INSTALLABLE_SOURCES = {None, "legacy"}


def load_toml(path: Path, text: str, fix: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise BadInputError(f"{path}: not valid TOML ({err}): {fix}") from None


def content_hash(pyproject: Mapping[str, Any]) -> str:
    """Poetry 2's `content-hash` of a pyproject (poetry.packages.locker, `_get_content_hash`)."""
    project = pyproject.get("project", {})
    groups = pyproject.get("dependency-groups", {})
    poetry = pyproject.get("tool", {}).get("poetry", {})
    relevant_project = {
        key: project[key] for key in _RELEVANT_PROJECT_KEYS if project.get(key) is not None
    }
    relevant_poetry: dict[str, Any] = {}
    for key in _RELEVANT_KEYS:
        value = poetry.get(key)
        # Legacy keys are hashed even when absent, unless [project] carries the content.
        if value is None and (key not in _LEGACY_KEYS or relevant_project):
            continue
        relevant_poetry[key] = value
    content: dict[str, Any] = relevant_poetry
    if relevant_project:
        content = {"project": relevant_project, "tool": {"poetry": relevant_poetry}}
    if groups:
        content["dependency-groups"] = groups
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def _lock_version(path: Path, metadata: Mapping[str, Any]) -> tuple[int, ...]:
    raw = str(metadata.get("lock-version", "1.0"))
    try:
        return tuple(int(part) for part in raw.split("."))
    except ValueError:
        raise BadInputError(f"{path}: unreadable lock-version {raw!r}: run `poetry lock`") from None


def check_fresh(path: Path, metadata: Mapping[str, Any]) -> None:
    """Refuse a lock out of date with the `pyproject.toml` beside it."""
    pyproject_path = path.with_name("pyproject.toml")
    if not pyproject_path.is_file():
        return  # nothing to compare with: the lock alone is the input
    pyproject = load_toml(
        pyproject_path, read_text(pyproject_path, "pyproject", "fix the file"), "fix the file"
    )
    recorded = metadata.get("content-hash")
    if recorded != content_hash(pyproject):
        raise BadInputError(
            f"{path} is out of date with {pyproject_path} (content-hash differs): "
            f"run `poetry lock` in {path.parent}"
        )


def _main_marker(package: Mapping[str, Any]) -> tuple[bool, str | None]:
    """(in the main group, the marker it is installed under there: None means always)."""
    if "main" not in package.get("groups", []):
        return False, None
    markers = package.get("markers")
    if isinstance(markers, Mapping):
        markers = markers.get("main")
    return True, None if markers is None else str(markers)


def _hashes(package: Mapping[str, Any]) -> tuple[str, ...]:
    found = {
        str(entry["hash"])
        for entry in package.get("files", [])
        if isinstance(entry, Mapping) and entry.get("hash")
    }
    return tuple(sorted(found))


def read_poetry_lock(path: Path, text: str, target: MarkerTarget) -> LockedPins:
    """The main group's pins for `target` (optional extras and dev groups left out)."""
    data = load_toml(path, text, "run `poetry lock`")
    metadata = data.get("metadata", {})
    version = _lock_version(path, metadata)
    if version < MIN_LOCK_VERSION:
        raise BadInputError(
            f"{path}: lock-version {'.'.join(map(str, version))} records no per-package groups "
            "and markers, so the main group cannot be read without poetry's resolver: "
            f"regenerate it with Poetry >= 2.0 (`poetry lock` in {path.parent})"
        )
    check_fresh(path, metadata)
    constraint = metadata.get("python-versions")
    check_python(
        None if constraint is None else str(constraint),
        target,
        source=path,
        fix="widen `python` in pyproject.toml and run `poetry lock`",
    )
    pins: list[Pin] = []
    indexes: list[str] = []
    for package in data.get("package", []):
        if not (isinstance(package, Mapping) and "name" in package and "version" in package):
            raise BadInputError(
                f"{path}: a [[package]] entry without name and version: run `poetry lock`"
            )
        in_main, marker = _main_marker(package)
        if not in_main or package.get("optional", False):
            continue
        if not marker_applies(marker, target, source=path):
            continue
        name = normalize_name(str(package["name"]))
        source = package.get("source", {})
        kind = source.get("type")
        if kind not in _INSTALLABLE_SOURCES:
            raise BadInputError(
                f"{path}: {name} comes from a {kind} source ({source.get('url')}): the layer "
                "installs binary wheels from a package index only; publish it to an index"
            )
        if kind == "legacy" and source.get("url") and source["url"] not in indexes:
            indexes.append(str(source["url"]))
        pins.append(Pin(name=name, version=str(package["version"]), hashes=_hashes(package)))
    return LockedPins(
        source=path,
        lock_format="poetry",
        pins=sorted_pins(pins, source=path),
        indexes=index_options(indexes),
        python_constraint=None if constraint is None else str(constraint),
    )
