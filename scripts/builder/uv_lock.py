"""`uv.lock` read directly: the project's runtime dependencies for one target.

uv records one universal resolution: every package with its dependency edges (each edge
with its marker and requested extras), but no per-package "installed when". So the
selection is a walk from the project's own entry (`source = { virtual | editable = "." }`)
along `dependencies` (and the `optional-dependencies` an edge's extras ask for), keeping
the edges whose markers hold on Lambda's runtime and CPU. Dev groups are never walked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet

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
from scripts.builder.poetry_lock import load_toml
from scripts.errors import BadInputError

_ROOT_SOURCES = ("virtual", "editable")
_FIX = "run `uv lock`"


def _entries(path: Path, data: Mapping[str, Any]) -> dict[str, list[Mapping[str, Any]]]:
    by_name: dict[str, list[Mapping[str, Any]]] = {}
    for package in data.get("package", []):
        if not (isinstance(package, Mapping) and "name" in package):
            raise BadInputError(f"{path}: a [[package]] entry without a name: {_FIX}")
        by_name.setdefault(normalize_name(str(package["name"])), []).append(package)
    return by_name


def _root(path: Path, data: Mapping[str, Any]) -> Mapping[str, Any]:
    roots = [
        package
        for package in data.get("package", [])
        if isinstance(package, Mapping)
        and any(package.get("source", {}).get(kind) == "." for kind in _ROOT_SOURCES)
    ]
    if len(roots) != 1:
        raise BadInputError(
            f'{path}: expected one project entry (source = {{ virtual = "." }}), found '
            f"{len(roots)}: point the lock setting at a single project's uv.lock"
        )
    return roots[0]


def _project_requirements(path: Path) -> dict[str, SpecifierSet] | None:
    pyproject_path = path.with_name("pyproject.toml")
    if not pyproject_path.is_file():
        return None
    pyproject = load_toml(
        pyproject_path, read_text(pyproject_path, "pyproject", "fix the file"), "fix it"
    )
    found: dict[str, SpecifierSet] = {}
    for line in pyproject.get("project", {}).get("dependencies", []):
        try:
            requirement = Requirement(str(line))
        except InvalidRequirement as err:
            raise BadInputError(f"{pyproject_path}: {line!r}: {err}: fix the requirement") from None
        found[normalize_name(requirement.name)] = requirement.specifier
    return found


def check_fresh(path: Path, root: Mapping[str, Any]) -> None:
    """Refuse a lock whose recorded project requirements differ from `pyproject.toml`."""
    wanted = _project_requirements(path)
    if wanted is None:
        return
    recorded: dict[str, SpecifierSet] = {}
    for entry in root.get("metadata", {}).get("requires-dist", []):
        recorded[normalize_name(str(entry["name"]))] = SpecifierSet(entry.get("specifier", ""))
    if recorded != wanted:
        changed = sorted(
            name for name in set(recorded) | set(wanted) if recorded.get(name) != wanted.get(name)
        )
        raise BadInputError(
            f"{path} is out of date with {path.with_name('pyproject.toml')} "
            f"({', '.join(changed[:5])}): run `uv lock` in {path.parent}"
        )


def _pick(
    path: Path,
    candidates: Sequence[Mapping[str, Any]],
    edge: Mapping[str, Any],
    target: MarkerTarget,
) -> Mapping[str, Any]:
    """The entry an edge points at: by version when uv forked the resolution."""
    if "version" in edge:
        candidates = [c for c in candidates if str(c.get("version")) == str(edge["version"])]
    if len(candidates) > 1:
        candidates = [
            c
            for c in candidates
            if any(marker_applies(m, target, source=path) for m in c.get("resolution-markers", []))
        ]
    if len(candidates) != 1:
        raise BadInputError(
            f"{path}: cannot tell which {edge['name']} entry applies to {target.describe}: {_FIX}"
        )
    return candidates[0]


def _hashes(package: Mapping[str, Any]) -> tuple[str, ...]:
    files = [*package.get("wheels", []), package.get("sdist") or {}]
    return tuple(sorted({str(f["hash"]) for f in files if isinstance(f, Mapping) and "hash" in f}))


def read_uv_lock(path: Path, text: str, target: MarkerTarget) -> LockedPins:
    data = load_toml(path, text, _FIX)
    if not isinstance(data.get("version"), int):
        raise BadInputError(f"{path}: no lock `version`: not a uv.lock; {_FIX}")
    constraint = data.get("requires-python")
    check_python(
        None if constraint is None else str(constraint),
        target,
        source=path,
        fix="widen requires-python in pyproject.toml and run `uv lock`",
    )
    entries = _entries(path, data)
    root = _root(path, data)
    check_fresh(path, root)
    selected: dict[tuple[str, str], set[str]] = {}  # (name, version) -> extras walked
    packages: dict[tuple[str, str], Mapping[str, Any]] = {}
    pending: list[tuple[Mapping[str, Any], frozenset[str]]] = [(root, frozenset())]
    while pending:
        package, extras = pending.pop()
        edges = list(package.get("dependencies", []))
        for extra in sorted(extras):
            edges += package.get("optional-dependencies", {}).get(extra, [])
        for edge in edges:
            if not marker_applies(edge.get("marker"), target, source=path):
                continue
            name = normalize_name(str(edge["name"]))
            if name not in entries:
                raise BadInputError(f"{path}: {name} is a dependency but has no entry: {_FIX}")
            chosen = _pick(path, entries[name], edge, target)
            key = (name, str(chosen.get("version")))
            wanted = set(edge.get("extra", []))
            seen = selected.get(key)
            if seen is not None and wanted <= seen:
                continue
            selected[key] = (seen or set()) | wanted
            packages[key] = chosen
            pending.append((chosen, frozenset(selected[key])))
    pins: list[Pin] = []
    indexes: list[str] = []
    for (name, version), package in packages.items():
        source = package.get("source", {})
        registry = source.get("registry")
        if registry is None:
            raise BadInputError(
                f"{path}: {name} comes from {dict(source)}: the layer installs binary wheels "
                "from a package index only; publish it to an index"
            )
        if str(registry) not in indexes:
            indexes.append(str(registry))
        pins.append(Pin(name=name, version=version, hashes=_hashes(package)))
    indexes.sort()
    return LockedPins(
        source=path,
        lock_format="uv",
        pins=sorted_pins(pins, source=path),
        indexes=index_options(indexes),
        python_constraint=None if constraint is None else str(constraint),
    )
