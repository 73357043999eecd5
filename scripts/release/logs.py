"""The functions' CloudWatch Logs, one version at a time, merged by time.

Lambda writes each function's output to `/aws/lambda/NAME` (or the log group the function
is configured with), in streams named `YYYY/MM/DD/[VERSION]id`: the version an
invocation ran is in the stream's name. So one version's lines are read with a stream
prefix per day of the window (`2026/12/04/[7]`), which CloudWatch filters on its side,
instead of listing every stream of a busy group.

`ErrorWatch` is what a canary's bake uses: new lines of the new versions that look like
errors, printed as they appear.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from environments import Environment
from scripts.errors import BadInputError

_SINCE = re.compile(r"^(\d+)([smhd])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_STREAM_VERSION = re.compile(r"^\d{4}/\d{2}/\d{2}/\[([^\]]+)\]")
# What marks a line as an error in Lambda's Python runtime and in handlers' own logging.
_ERROR = re.compile(r"\[ERROR\]|\bERROR\b|Traceback \(most recent call last\)|Task timed out")


def parse_since(text: str) -> float:
    """`10m`, `2h`, `30s`, `1d` -> seconds."""
    found = _SINCE.match(text.strip())
    if not found or int(found[1]) == 0:
        raise BadInputError(f"--since {text!r}: use a positive number with s, m, h or d (10m)")
    return int(found[1]) * _UNIT_S[found[2]]


def log_group(env: Environment, short_name: str) -> str:
    config = env.function(short_name)
    return config.existing_log_group or f"/aws/lambda/{env.function_name(short_name)}"


@dataclass(frozen=True, kw_only=True)
class Source:
    """One function's log group, optionally one version's streams only."""

    function: str  # the configured (short) name
    group: str
    version: str | None = None


@dataclass(frozen=True, order=True, kw_only=True)
class Line:
    timestamp: int  # milliseconds since the epoch
    function: str
    version: str
    message: str
    event_id: str = field(default="", compare=False)

    def text(self) -> str:
        when = datetime.fromtimestamp(self.timestamp / 1000, UTC).strftime("%H:%M:%S.%f")[:-3]
        return f"{when} {self.function} [{self.version}] {self.message.rstrip()}"

    def to_json(self) -> dict[str, Any]:
        return {
            "timestamp": self.timestamp,
            "function": self.function,
            "version": self.version,
            "message": self.message.rstrip(),
        }


def _prefixes(version: str | None, start_ms: int, end_ms: int) -> list[str | None]:
    """One stream prefix per UTC day of the window when a version is asked for."""
    if version is None:
        return [None]
    day = datetime.fromtimestamp(start_ms / 1000, UTC).date()
    last = datetime.fromtimestamp(end_ms / 1000, UTC).date()
    found: list[str | None] = []
    while day <= last:
        found.append(f"{day:%Y/%m/%d}/[{version}]")
        day += timedelta(days=1)
    return found


def _events(client: Any, source: Source, start_ms: int, end_ms: int) -> Iterator[Line]:
    for prefix in _prefixes(source.version, start_ms, end_ms):
        request: dict[str, Any] = {"logGroupName": source.group, "startTime": start_ms}
        if prefix is not None:
            request["logStreamNamePrefix"] = prefix
        try:
            pages = client.get_paginator("filter_log_events").paginate(**request)
            for page in pages:
                for event in page.get("events", []):
                    stream = _STREAM_VERSION.match(str(event.get("logStreamName", "")))
                    version = stream[1] if stream else "?"
                    if source.version is not None and version != source.version:
                        continue  # the prefix is CloudWatch's filter; moto ignores it
                    yield Line(
                        timestamp=int(event["timestamp"]),
                        function=source.function,
                        version=version,
                        message=str(event.get("message", "")),
                        event_id=str(event.get("eventId", "")),
                    )
        except client.exceptions.ResourceNotFoundException:
            return  # no group yet: the function never ran (or logs elsewhere)


def read(client: Any, sources: Sequence[Source], start_ms: int, end_ms: int) -> list[Line]:
    """Every line of `sources` from `start_ms`, merged by time."""
    lines = [line for s in sources for line in _events(client, s, start_ms, end_ms)]
    return sorted(lines)


@dataclass
class Follower:
    """New lines since the last poll (each CloudWatch event once, by its id)."""

    client: Any
    sources: Sequence[Source]
    start_ms: int
    keep: Callable[[Line], bool] = lambda _line: True
    _seen: set[str] = field(default_factory=set)

    def poll(self, now_ms: int) -> list[Line]:
        fresh = []
        for line in read(self.client, self.sources, self.start_ms, now_ms):
            key = line.event_id or f"{line.timestamp}/{line.function}/{line.message}"
            if key in self._seen:
                continue
            self._seen.add(key)
            if self.keep(line):
                fresh.append(line)
        if fresh:
            # Late events can carry earlier timestamps: look back a little, ids dedupe.
            self.start_ms = max(self.start_ms, fresh[-1].timestamp - 60_000)
        return fresh


def is_error(line: Line) -> bool:
    return bool(_ERROR.search(line.message))


class ErrorWatch:
    """During a canary's bake: error lines of the new versions, said as they appear."""

    def __init__(
        self,
        client: Any,
        versions: Mapping[str, tuple[str, str]],  # short name -> (log group, version)
        *,
        start_ms: int,
        say: Callable[[str], None],
        now_ms: Callable[[], int],
    ) -> None:
        sources = [Source(function=f, group=g, version=v) for f, (g, v) in versions.items()]
        self.follower = Follower(client, sources, start_ms, keep=is_error)
        self.say = say
        self.now_ms = now_ms
        self.errors = 0
        self.unreadable = False

    def poll(self) -> None:
        try:
            fresh = self.follower.poll(self.now_ms())
        except Exception as err:  # watching is a help, never a reason to fail a release
            if not self.unreadable:  # said once, not on every poll
                self.say(f"  canary: cannot read the logs ({type(err).__name__}: {err})")
            self.unreadable = True
            return
        for line in fresh:
            self.errors += 1
            self.say(f"  canary log: {line.text()}")


def sources_for(
    env: Environment,
    functions: Sequence[str],
    *,
    version: str | None = None,
    release: Any = None,  # a history.ReleaseRecord: each function's target version
) -> list[Source]:
    """The log sources of `functions` (short names; none: all), one version each if asked."""
    known = [f.name for f in env.functions]
    unknown = [name for name in functions if name not in known]
    if unknown:
        raise BadInputError(
            f"{env.name}: no function {', '.join(unknown)}; configured: {', '.join(known)}"
        )
    found = []
    for name in functions or known:
        wanted = version
        if release is not None:
            entry = release.functions.get(env.function_name(name))
            wanted = entry.target.version if entry is not None else None
            if wanted is None:
                continue  # not in that release, or it never made a version
        found.append(Source(function=name, group=log_group(env, name), version=wanted))
    if release is not None and not found:
        raise BadInputError(f"release {release.id} made no version of {', '.join(functions)}")
    return found


def error_watch(
    env: Environment, client: Any, new_versions: Mapping[str, str], *, say: Callable[[str], None]
) -> ErrorWatch:
    """Watch the new versions (Lambda name -> version) of a canary from now on."""
    short = {env.function_name(f.name): f.name for f in env.functions}
    versions = {
        short[name]: (log_group(env, short[name]), version)
        for name, version in new_versions.items()
        if name in short
    }
    return ErrorWatch(client, versions, start_ms=wall_ms(), say=say, now_ms=wall_ms)


def wall_ms() -> int:
    """Now, in CloudWatch's terms (wall-clock milliseconds, not the monotonic clock)."""
    return int(time.time() * 1000)
