"""A canary release: part of the traffic on the new version, watched, then promoted.

The switch moves each alias to weighted routing (the version it served keeps the rest);
during the bake the CloudWatch alarms configured per function are read every
`alarm_poll_s`. Any alarm in ALARM, or a stop (Ctrl-C, SIGTERM), ends the bake with a
reason and the release takes its failure path: every alias goes back. Otherwise the
aliases are promoted to the new version alone. With no alarms configured the canary only
waits: a person watching can still stop it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from scripts.errors import BadInputError

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient

    from scripts.release.release import Context


@dataclass(frozen=True, kw_only=True)
class Canary:
    percent: float
    bake_s: float
    alarms: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not 0 < self.percent < 100:
            raise BadInputError(f"--canary: got {self.percent}; use a percentage between 0 and 100")
        if self.bake_s < 0:
            raise BadInputError(f"--bake: got {self.bake_s}; use seconds >= 0")

    @property
    def weight(self) -> float:
        return round(self.percent / 100, 4)

    def to_json(self) -> dict[str, Any]:
        return {"percent": self.percent, "bake_s": self.bake_s, "alarms": list(self.alarms)}


def alarm_reader(client: CloudWatchClient) -> Callable[[Sequence[str]], Mapping[str, str]]:
    """Alarm name -> state (OK, ALARM, INSUFFICIENT_DATA); a configured alarm that does not
    exist reads as MISSING, so a typo in the configuration cannot pass as "quiet"."""

    def read(names: Sequence[str]) -> Mapping[str, str]:
        states = {name: "MISSING" for name in names}
        for start in range(0, len(names), 100):
            page = client.describe_alarms(AlarmNames=list(names[start : start + 100]))
            for alarm in page.get("MetricAlarms", []):
                states[alarm["AlarmName"]] = str(alarm["StateValue"])
            for composite in page.get("CompositeAlarms", []):
                states[composite["AlarmName"]] = str(composite["StateValue"])
        return states

    return read


def bake(ctx: Context, canary: Canary, *, watch: Callable[[], None] | None = None) -> str:
    """Watch until the bake time is over: "promote", or why the canary must switch back.

    `watch` runs on every poll (the new versions' error lines, scripts.release.logs)."""
    deadline = ctx.timing.clock() + canary.bake_s
    reader = ctx.alarms
    if canary.alarms and reader is None:
        raise BadInputError("canary alarms are configured but no CloudWatch reader was given")
    ctx.say(
        f"  canary: {canary.percent:g}% on the new version for {canary.bake_s:g}s, watching "
        + (", ".join(canary.alarms) if canary.alarms else "no alarms (none configured)")
    )
    while True:
        if watch is not None:
            watch()
        if reader is not None and canary.alarms:
            states = reader(canary.alarms)
            firing = sorted(n for n, state in states.items() if state == "ALARM")
            missing = sorted(n for n, state in states.items() if state == "MISSING")
            if firing:
                return f"alarm {', '.join(firing)} in ALARM"
            if missing:
                return f"alarm {', '.join(missing)} does not exist: fix the configuration"
        if ctx.stop.is_set():
            return f"stopped during the bake: {ctx.reason or 'cancelled'}"
        left = deadline - ctx.timing.clock()
        if left <= 0:
            return "promote"
        # Waiting on the stop event, not sleeping: Ctrl-C switches back at once.
        ctx.stop.wait(min(ctx.timing.alarm_poll_s, left))
