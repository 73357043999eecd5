"""Hashed requirements files (`pip-compile --generate-hashes`, `uv export`, `poetry export`).

Each line pins one distribution with `==`, optionally with an environment marker and
`--hash` options; markers are evaluated for Lambda's runtime and CPU, not this host's.
Index options (`--index-url`, `--extra-index-url`, `--find-links`) are carried over to
the install. Anything that is not an exact pin (ranges, `-e`, nested `-r`) is refused:
a layer must be reproducible from the file alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from scripts.builder.pins import LockedPins, MarkerTarget, Pin, marker_applies, normalize_name
from scripts.builder.pins import sorted_pins as _sorted
from scripts.errors import BadInputError

_HASH = re.compile(r"--hash[=\s]+(\S+)")
_PINNED = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*===?\s*(?P<version>[^\s;,]+)$"
)
_INDEX_OPTIONS = {"--index-url", "-i", "--extra-index-url", "--find-links", "-f"}
_REFUSED = {"-r", "-c", "-e", "--requirement", "--constraint", "--editable"}


@dataclass(frozen=True, kw_only=True)
class Requirement:
    name: str
    version: str
    hashes: tuple[str, ...]
    marker: str | None
    line: int


@dataclass(frozen=True, kw_only=True)
class RequirementsFile:
    requirements: tuple[Requirement, ...]
    # Index options as written ("--index-url URL"), in file order.
    index_options: tuple[str, ...]


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Lines with `\\` continuations joined, numbered by the line they start on."""
    logical: list[tuple[int, str]] = []
    buffer, start = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip()
        if not buffer:
            start = number
        if line.endswith("\\"):
            buffer += line[:-1] + " "
            continue
        logical.append((start, buffer + line))
        buffer = ""
    if buffer:
        logical.append((start, buffer))
    return logical


def parse_requirements(text: str, *, source: Path) -> RequirementsFile:
    """Every pin of a requirements file; refuses what is not an exact pin."""
    found: list[Requirement] = []
    options: list[str] = []
    for number, line in _logical_lines(text):
        stripped = re.split(r"(?:^|\s)#", line, maxsplit=1)[0].strip()
        if not stripped:
            continue
        if stripped.startswith("-"):
            flag, _, value = stripped.partition(" ")
            flag, _, inline = flag.partition("=")
            if flag in _REFUSED:
                raise BadInputError(
                    f"{source}:{number}: {flag} is not supported: use one flat, pinned file "
                    "(pip-compile --generate-hashes, uv export) or build from the lock itself"
                )
            if flag in _INDEX_OPTIONS:
                options.append(f"{flag} {(inline or value).strip()}")
            continue  # other installer options (--only-binary ...) do not change the pins
        hashes = tuple(sorted(set(_HASH.findall(stripped))))
        spec, _, marker = _HASH.sub("", stripped).partition(";")
        match = _PINNED.match(spec.strip())
        if not match:
            raise BadInputError(
                f"{source}:{number}: {spec.strip()!r} is not pinned with ==: pin every "
                "requirement (pip-compile --generate-hashes, uv export) or use the lock itself"
            )
        found.append(
            Requirement(
                name=normalize_name(match["name"]),
                version=match["version"],
                hashes=hashes,
                marker=marker.strip() or None,
                line=number,
            )
        )
    return RequirementsFile(requirements=tuple(found), index_options=tuple(options))


def read_requirements(path: Path, text: str, target: MarkerTarget) -> LockedPins:
    """The pins of `path` whose markers hold on `target`."""
    parsed = parse_requirements(text, source=path)
    pins = [
        Pin(name=req.name, version=req.version, hashes=req.hashes)
        for req in parsed.requirements
        if marker_applies(req.marker, target, source=path)
    ]
    if parsed.requirements and not pins:
        markers = sorted({req.marker or "" for req in parsed.requirements})
        raise BadInputError(
            f"{path}: no requirement applies to {target.describe} (markers: "
            f"{'; '.join(markers[:3])}): export it for that runtime, or build with the "
            "runtime it was exported for"
        )
    return LockedPins(
        source=path,
        lock_format="requirements",
        pins=_sorted(pins, source=path),
        indexes=parsed.index_options,
    )
