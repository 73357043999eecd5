"""A canary release: part of the traffic on the new version, watched, then promoted.

Before anything changes, every configured alarm is read once: one that does not exist
(a typo), cannot be read, or already fires refuses the release with nothing changed.
The switch then moves each alias to weighted routing (the version it served keeps the
rest); during the bake the alarms are read every `alarm_poll_s`. An alarm in ALARM, a
stop (Ctrl-C, SIGTERM, `unlock --force`), or ANY failure of the bake itself (CloudWatch
answering 500, throttling, a bug) ends the bake with a reason, and the release takes its
failure path: every alias goes back, the record ends `failed` naming the reason.
Otherwise the aliases are promoted to the new version alone. With no alarms configured
the canary only waits: a person watching can still stop it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from scripts.errors import BadInputError, ToolError
from scripts.release.lambda_api import describe

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient

    from scripts.release.context import Context

# Weights are sent with 4 decimals (steps of 0.01 %): finer percentages are refused
# rather than rounded, and one that rounds to 0 or 100 % would move no traffic (or all).
DECIMALS = 4
DEFAULT_BAKE_S = 300.0
# Plain (non-terminal) output: a line when an alarm changes state, else one a minute.
PLAIN_EVERY_S = 60.0


def _percent(value: float) -> float:
    fix = "use a percentage from 0.01 to 99.99 in steps of 0.01, e.g. --canary 10"
    if not math.isfinite(value) or not 0 < value < 100:
        raise BadInputError(f"--canary {value:g}: {fix}")
    weight = round(value / 100, DECIMALS)
    if weight <= 0 or weight >= 1:
        raise BadInputError(
            f"--canary {value:g}: Lambda would get weight {weight:g} and move "
            f"{'no' if weight <= 0 else 'all the'} traffic; {fix}"
        )
    if not math.isclose(weight * 100, value, abs_tol=1e-9):
        raise BadInputError(
            f"--canary {value:g}: weights go in steps of 0.01 %; use {weight * 100:.2f}"
        )
    return value


@dataclass(frozen=True, kw_only=True)
class Canary:
    percent: float
    bake_s: float
    alarms: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        _percent(self.percent)
        if not math.isfinite(self.bake_s) or self.bake_s < 0:
            raise BadInputError(
                f"--bake {self.bake_s:g}: use a finite number of seconds >= 0, e.g. --bake 300"
            )

    @property
    def weight(self) -> float:
        return round(self.percent / 100, DECIMALS)

    def to_json(self) -> dict[str, Any]:
        return {"percent": self.percent, "bake_s": self.bake_s, "alarms": list(self.alarms)}


def from_args(percent: float | None, bake_s: float | None, alarms: Sequence[str]) -> Canary | None:
    """`--canary` / `--bake` as given (None: not given), checked before anything runs."""
    if percent is None:
        if bake_s is not None:
            raise BadInputError(
                f"--bake {bake_s:g} needs --canary PERCENT (without a canary every alias "
                "moves at once and nothing is baked): add --canary 10, or drop --bake"
            )
        return None
    return Canary(
        percent=percent, bake_s=DEFAULT_BAKE_S if bake_s is None else bake_s, alarms=tuple(alarms)
    )


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


def preflight(ctx: Context, canary: Canary) -> None:
    """Read every alarm once before any change: missing or unreadable refuses the release."""
    if not canary.alarms:
        return
    if ctx.alarms is None:
        raise BadInputError("canary alarms are configured but no CloudWatch reader was given")
    try:
        states = ctx.alarms(canary.alarms)
    except Exception as err:  # any AWS error: nothing has changed, say so and stop
        raise ToolError(
            f"canary: cannot read alarms {', '.join(canary.alarms)} ({describe(err)}): "
            "nothing was changed; grant cloudwatch:DescribeAlarms or retry"
        ) from err
    missing = sorted(n for n, state in states.items() if state == "MISSING")
    if missing:
        raise BadInputError(
            f"canary: alarm {', '.join(missing)} does not exist in CloudWatch: fix alarm_names "
            f"in the {ctx.env.name} environment (nothing was changed)"
        )
    firing = sorted(n for n, state in states.items() if state == "ALARM")
    if firing:
        raise ToolError(
            f"canary: alarm {', '.join(firing)} is already in ALARM: the canary would switch "
            "back at once; nothing was changed"
        )


def _states_text(states: Mapping[str, str]) -> str:
    return ", ".join(f"{n} {s}" for n, s in sorted(states.items())) or "no alarms"


def bake(ctx: Context, canary: Canary, *, watch: Callable[[], None] | None = None) -> str:
    """Watch until the bake time is over: "promote", or why the canary must switch back.
    Errors (an alarm read failing) propagate: the release switches back on them too.

    `watch` runs on every poll (the new versions' error lines, scripts.release.logs)."""
    deadline = ctx.timing.clock() + canary.bake_s
    reader = ctx.alarms if canary.alarms else None
    ctx.say(
        f"  canary: {canary.percent:g}% on the new version for {canary.bake_s:g}s, watching "
        + (", ".join(canary.alarms) if canary.alarms else "no alarms (none configured)")
    )
    live = ctx.live
    tick = min(1.0, ctx.timing.alarm_poll_s) if live else ctx.timing.alarm_poll_s
    states: Mapping[str, str] = {}
    next_read = ctx.timing.clock()
    shown: tuple[Mapping[str, str], float] | None = None
    try:
        while True:
            now = ctx.timing.clock()
            if now >= next_read:
                next_read = now + ctx.timing.alarm_poll_s
                if watch is not None:
                    watch()
                states = reader(canary.alarms) if reader is not None else {}
                firing = sorted(n for n, state in states.items() if state == "ALARM")
                missing = sorted(n for n, state in states.items() if state == "MISSING")
                if firing:
                    return f"alarm {', '.join(firing)} in ALARM"
                if missing:
                    return f"alarm {', '.join(missing)} no longer exists"
            if ctx.stop.is_set():
                return f"stopped during the bake: {ctx.reason or 'cancelled'}"
            left = deadline - ctx.timing.clock()
            if left <= 0:
                return "promote"
            line = f"  canary: {left:.0f}s left; {_states_text(states)}"
            if live is not None:
                live(line)
            elif shown is None or shown[0] != states or shown[1] - left >= PLAIN_EVERY_S:
                ctx.say(line)
                shown = (dict(states), left)
            # Waiting on the stop event, not sleeping: Ctrl-C switches back at once.
            ctx.stop.wait(min(tick, left, max(0.0, next_read - ctx.timing.clock()) or tick))
    finally:
        if live is not None:
            live("")
