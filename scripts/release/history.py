"""The release history: one record per deploy or rollback, written ahead of every change.

A record is created `started` (conditional create) before the first write to any
function, holding the target and the exact before-state of every function; it is updated
(conditional on the ETag of our last write) with the versions prepare found or made, and
ends `succeeded` or `failed` with each function's outcome. A `started` record nobody
finished is the trace of a run that died: the next command resolves it.

Records live under `deployments/ENV/releases/ID.json`; IDs sort by time. A record that
cannot be read or has the wrong shape is skipped with a warning naming its key: one bad
object must never block a deploy, a rollback or a prune.

Format 2 (issue 16): a function's `before` is what callers were served -- the version the
alias served, with that version's own code and layers -- and `latest` is `$LATEST`'s code
and layers (what undo and crash recovery put back). Format 1 kept the alias's version
beside `$LATEST`'s code and layers, which differ after any rollback; such records are
still read (`latest` is their `before`), and rollback takes a format-1 before-state's code
and layers from the version itself (see `legacy_before`).
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import artifacts
from scripts import settings
from scripts.errors import ArchivedObjectError, ToolError
from scripts.store import Store, Stored

FORMAT = 2
# Formats this version reads: 1 is the one before `latest` was recorded apart.
READABLE = (1, 2)
STARTED, SUCCEEDED, FAILED = "started", "succeeded", "failed"
_STATES = (STARTED, SUCCEEDED, FAILED)
_KINDS = ("deploy", "rollback")


class RecordShapeError(ValueError):
    """A stored record is not one of ours (or not any more): skipped, never fatal."""


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def new_release_id() -> str:
    """Time-ordered and unique: a listing sorted by name is the history in order."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ") + "-" + uuid.uuid4().hex[:8]


def who() -> dict[str, str]:
    """Who ran it, where: what a person needs to find a run (CI sets GITHUB_*)."""
    found = {"user": getpass.getuser(), "host": socket.gethostname(), "pid": str(os.getpid())}
    for setting in (*settings.GITHUB_RUN, settings.GITHUB_ACTOR):
        value = setting.read()
        if value:
            found[setting.name.lower()] = value
    return found


@dataclass(frozen=True, kw_only=True)
class FunctionState:
    """What one function ran (before) or is to run (target)."""

    code_sha256: str
    layers: tuple[str, ...]
    # The store name of a package or snapshot holding that code; None if none does.
    code_key: str | None = None
    # The published version holding this state, once known.
    version: str | None = None


@dataclass(frozen=True, kw_only=True)
class AliasSeen:
    """The alias as this run last knew it first-hand: its own write's answer, or a read."""

    version: str
    revision_id: str
    weights: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class FunctionEntry:
    # What callers were served: the alias's version and that version's own code and layers
    # (a function without an alias: `$LATEST`, `version` the baseline published from it).
    before: FunctionState
    target: FunctionState
    # `$LATEST` before the release (`code_key`: a copy of its code): what undo and crash
    # recovery put back. After a rollback it differs from `before` (aliases move alone).
    # None: the run did not read it (a rollback moving the alias alone leaves it as it is).
    latest: FunctionState | None
    revision_id: str | None = None  # `$LATEST`'s
    alias_version: str | None = None  # what the alias served before; None: no alias
    alias_weights: Mapping[str, float] = field(default_factory=dict)
    snapshot: bool = False  # latest.code_key is a snapshot taken by this release
    outcome: Mapping[str, Any] | None = None
    # The alias when the run ended (written with the outcome): the next release plans from
    # it instead of a GetAlias on the writes' 15/s budget, its switch guarded by this
    # RevisionId (a stale one is refused by Lambda and read again).
    alias_seen: AliasSeen | None = None


@dataclass(frozen=True, kw_only=True)
class ReleaseRecord:
    id: str
    env: str
    kind: str
    state: str
    alias: str
    started_at: str
    functions: Mapping[str, FunctionEntry]
    by: Mapping[str, str] = field(default_factory=dict)
    ended_at: str | None = None
    # What it moves to; `serves` names the release whose state that is: its own id for a
    # deploy, the release it returns to for a rollback (so rollbacks walk back, never toggle).
    serves: str = ""
    layer_hash: str | None = None
    layer_version_arn: str | None = None
    layer_published: bool = False
    package_key: str | None = None
    app_version: str | None = None
    canary: Mapping[str, Any] | None = None
    # Hooks and smoke checks: whether smoke ran (--no-smoke) and every answer (checks.py).
    checks: Mapping[str, Any] | None = None
    resolves: str | None = None
    error: str | None = None
    # Per function, the callers that invoke the unqualified function (scripts/callers.py):
    # the release reached `$LATEST` for them, not only through the alias.
    bypassed: Mapping[str, list[str]] = field(default_factory=dict)
    format: int = FORMAT

    @property
    def succeeded(self) -> bool:
        return self.state == SUCCEEDED

    @property
    def legacy_before(self) -> bool:
        """Format 1: each `before` names the alias's version but `$LATEST`'s code and layers."""
        return self.format < 2

    def layer_arns(self) -> set[str]:
        """Every layer version this record names, before and target."""
        found: set[str] = set()
        for entry in self.functions.values():
            found.update(entry.before.layers)
            found.update(entry.target.layers)
            if entry.latest is not None:
                found.update(entry.latest.layers)
        return found

    def to_json(self) -> dict[str, Any]:
        # A format-1 record rewritten (crash recovery completes it) keeps its format: its
        # `before` still means what format 1 meant.
        return asdict(self)


def _state(data: Mapping[str, Any]) -> FunctionState:
    layers = data["layers"]
    _require(isinstance(layers, list), "layers: not a list")
    return FunctionState(
        code_sha256=_text(data["code_sha256"], "code_sha256"),
        layers=tuple(_text(x, "layers") for x in layers),
        code_key=_text(data.get("code_key"), "code_key", optional=True),
        version=_text(data.get("version"), "version", optional=True),
    )


def _alias_seen(data: Any) -> AliasSeen | None:
    if data is None:
        return None
    seen = _object(data, "alias_seen")
    return AliasSeen(
        version=_text(seen["version"], "alias_seen.version"),
        revision_id=_text(seen["revision_id"], "alias_seen.revision_id"),
        weights={str(k): float(v) for k, v in _object(seen.get("weights", {}), "weights").items()},
    )


def known_aliases(records: Sequence[ReleaseRecord]) -> dict[str, AliasSeen]:
    """Per function, the alias as the newest record naming the function left it (records
    newest first); a function whose newest record knows nothing is left out."""
    found: dict[str, AliasSeen] = {}
    named: set[str] = set()
    for record in records:
        for name, entry in record.functions.items():
            if name in named:
                continue
            named.add(name)
            if entry.alias_seen is not None:
                found[name] = entry.alias_seen
    return found


def _latest_state(entry: Mapping[str, Any], format_: int) -> FunctionState | None:
    if "latest" in entry or format_ >= 2:
        return None if entry["latest"] is None else _state(entry["latest"])
    # Format 1 recorded `$LATEST`'s code, layers and code copy as `before`.
    return replace(_state(entry["before"]), version=None)


# Every other field's type: a record some command would trip over later is a wrong shape.
_TEXT = ("id", "env", "kind", "state", "alias", "started_at", "serves")
_OPTIONAL_TEXT: tuple[str, ...] = ("ended_at", "layer_hash", "layer_version_arn", "package_key")
_OPTIONAL_TEXT += ("app_version", "resolves", "error")


def _text(value: Any, what: str, *, optional: bool = False) -> Any:
    _require(
        isinstance(value, str) or (optional and value is None),
        f"{what}: {type(value).__name__}, not a string",
    )
    return value


def _check(record: ReleaseRecord) -> ReleaseRecord:
    for name in _TEXT:
        _text(getattr(record, name), name)
    for name in _OPTIONAL_TEXT:
        _text(getattr(record, name), name, optional=True)
    _require(isinstance(record.by, dict), "by: not an object")
    for value in record.by.values():
        _text(value, "by")
    _require(isinstance(record.layer_published, bool), "layer_published: not a boolean")
    _require(record.format in READABLE, f"format {record.format!r}: not one this tool reads")
    _require(record.canary is None or isinstance(record.canary, dict), "canary: not an object")
    _require(isinstance(record.bypassed, dict), "bypassed: not an object")
    _require(record.checks is None or isinstance(record.checks, dict), "checks: not an object")
    for entry in record.functions.values():
        _require(entry.outcome is None or isinstance(entry.outcome, dict), "outcome: not an object")
    return record


def from_json(data: Any) -> ReleaseRecord:
    """Parse a stored record; any other shape is a RecordShapeError naming what is wrong."""
    _require(
        isinstance(data, dict) and type(data.get("format")) is int and data["format"] in READABLE,
        "not a release record",
    )
    try:
        _require(
            data["state"] in _STATES and data["kind"] in _KINDS,
            f"unknown state/kind {data['state']!r}/{data['kind']!r}",
        )
        functions = {
            str(name): FunctionEntry(
                before=_state(entry["before"]),
                target=_state(entry["target"]),
                latest=_latest_state(entry, data["format"]),
                revision_id=_text(entry.get("revision_id"), "revision_id", optional=True),
                alias_version=_text(entry.get("alias_version"), "alias_version", optional=True),
                alias_weights={str(k): float(v) for k, v in entry.get("alias_weights", {}).items()},
                snapshot=bool(entry.get("snapshot", False)),
                outcome=entry.get("outcome"),
                alias_seen=_alias_seen(entry.get("alias_seen")),
            )
            for name, entry in _object(data["functions"], "functions").items()
        }
        fields = {k: v for k, v in data.items() if k != "functions"}
        return _check(ReleaseRecord(functions=functions, **fields))
    except RecordShapeError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise RecordShapeError(f"wrong shape ({type(err).__name__}: {err})") from err


def _require(condition: bool, problem: str) -> None:
    if not condition:
        raise RecordShapeError(problem)


def _object(value: Any, what: str) -> dict[str, Any]:
    _require(isinstance(value, dict), f"{what}: not an object")
    return dict(value)


def encode(record: ReleaseRecord) -> bytes:
    return (json.dumps(record.to_json(), indent=2, sort_keys=True) + "\n").encode()


@dataclass
class RecordWriter:
    """Writes one release's record: create once, then only over our own last version."""

    store: Store
    record: ReleaseRecord
    etag: str | None = None

    @property
    def name(self) -> str:
        return artifacts.release_record(self.record.env, self.record.id)

    def write(self, **changes: Any) -> ReleaseRecord:
        record = replace(self.record, **changes)
        data = encode(record)
        try:
            if self.etag is None:
                self.etag = self.store.put_bytes(self.name, data, overwrite=False)
            else:
                self.etag = self.store.put_bytes(
                    self.name, data, overwrite=True, if_match=self.etag
                )
        except ToolError:
            # The answer may be lost although the write landed (a timeout; a retry then
            # refused by our own condition): read back and decide from what is there.
            stored = self._read_back()
            if stored is None or stored.data != data:
                raise
            self.etag = stored.etag
        self.record = record
        return record

    def _read_back(self) -> Stored | None:
        try:
            return self.store.get(self.name)
        except ToolError:
            return None


Warn = Callable[[str], None]


def load_releases(
    store: Store, env_name: str, *, limit: int | None = None, warn: Warn = lambda _m: None
) -> list[ReleaseRecord]:
    """Newest first; unreadable or foreign records are skipped with a warning naming them."""
    prefix = artifacts.releases_prefix(env_name)
    names = sorted((o.name for o in store.list(prefix) if o.name.endswith(".json")), reverse=True)
    records: list[ReleaseRecord] = []
    for name in names:
        if limit is not None and len(records) >= limit:
            break
        try:
            record = from_json(json.loads(store.read_bytes(name)))
        except (RecordShapeError, ValueError, UnicodeDecodeError, ArchivedObjectError) as err:
            warn(f"warning: skipped {store.location}{name}: {err}")
            continue
        if record.env != env_name or artifacts.release_record(env_name, record.id) != name:
            warn(f"warning: skipped {store.location}{name}: it names another environment or id")
            continue
        records.append(record)
    return records


def old_format_records(store: Store, env_name: str) -> int:
    """How many records the previous tool version wrote directly under `deployments/ENV/`."""
    prefix = artifacts.deployments_prefix(env_name)
    return sum(
        1
        for o in store.list(prefix)
        if o.name.endswith(".json")
        and "/" not in o.name.removeprefix(prefix)
        and o.name != artifacts.lock_name(env_name)
    )


def unfinished(records: Iterable[ReleaseRecord]) -> ReleaseRecord | None:
    """The newest record still `started`: a run that died before recording its end."""
    return next((r for r in records if r.state == STARTED), None)
