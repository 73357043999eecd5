"""`unlock`: remove a lock whose holder is gone; never one whose holder is renewing it.

A lock is removed at once when it is unreadable, its lease expired by the store's clock,
or its holder is provably gone (this host, process gone). Otherwise its holder may be
alive, so the lock is watched until it has gone more than one and a half renewal
intervals without a renewal, by the store's clock: a live holder renews every third of
its lease (and retries a failed renewal within seconds), so by then it has missed one.
A renewal seen meanwhile proves it alive: refused (exit 3) naming the holder and since
when, unless `--force`.

`--force` never deletes a live lock: a second run would then take it and "resolve" the
first run's release while the first one's writes still land. It marks the lock revoked
instead. The holder sees the mark at its next renewal, stops before its next write, puts
back what it changed, records why, and releases the lock; a run queued with `--wait`
goes next. A revoked holder that dies meanwhile stops renewing, and its lock is taken
over once its lease expires by the store's clock.
"""

from __future__ import annotations

import getpass
import socket
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any

import artifacts
from scripts.errors import BusyError, ConditionFailedError, ToolError
from scripts.release.lock import MARGIN_S, Holder, Seen, encode, look
from scripts.release.timing import Timing
from scripts.store import Store

# How many renewal intervals without a renewal mean "not renewing", by the store's clock.
MISSED = 1.5


@dataclass(frozen=True)
class Unlocked:
    removed: dict[str, Any] | None = None  # the holder removed (None: nothing removed)
    revoked: dict[str, Any] | None = None  # the holder asked to stop (`--force`)

    def to_json(self) -> dict[str, Any]:
        return {"removed": self.removed, "revoked": self.revoked}


def since(holder: Holder) -> str:
    """When the holder took the lock, by its own clock (what a person compares with CI)."""
    return datetime.fromtimestamp(holder.started_at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def unlock(
    store: Store,
    env_name: str,
    *,
    timing: Timing,
    force: bool = False,
    say: Callable[[str], None] = lambda _line: None,
) -> Unlocked:
    seen = look(store, env_name)
    if seen is None:
        return Unlocked()
    default = timing.lock_lease_s
    if seen.holder is None or seen.takeable(default):
        return _remove(store, env_name, seen)
    alive = _watch(store, env_name, seen, seen.holder, timing=timing, say=say)
    if alive is None:
        return Unlocked()  # released while we watched
    holder = alive.holder
    if alive is seen or holder is None:
        return _remove(store, env_name, alive)  # not renewed: its holder is gone or stuck
    who = (
        f"the {env_name} lock is held by {alive.describe(default)}, since {since(holder)}; "
        f"it was renewed {alive.age or 0:.0f}s ago by the store's clock: its holder is alive"
    )
    if holder.revoked:
        raise BusyError(f"{who} and already putting back its changes ({holder.revoked})")
    if not force:
        raise BusyError(
            f"{who}. Wait for it (deploy --wait SECONDS), or stop it: "
            f"python -m scripts unlock --env {env_name} --force (it stops before its next "
            "write, puts back what it changed and releases the lock)"
        )
    return _revoke(store, env_name, alive, holder)


def _watch(
    store: Store,
    env_name: str,
    seen: Seen,
    holder: Holder,
    *,
    timing: Timing,
    say: Callable[[str], None],
) -> Seen | None:
    """`seen` again when nobody renewed it for MISSED intervals; the renewed lock; None
    when it disappeared."""
    limit = holder.lease(timing.lock_lease_s) / 3 * MISSED + MARGIN_S
    if seen.age is None:
        raise ToolError(
            "the store reports no time, so whether the lock's holder is alive cannot be "
            "told: wait for its lease, or remove the lock object by hand"
        )
    if seen.age <= limit:
        say(
            f"  {env_name}: lock held by {seen.describe(timing.lock_lease_s)}; watching it "
            f"for up to {limit - seen.age:.0f}s to see whether its holder renews it"
        )
    current = seen
    while current.age is not None and current.age <= limit:
        timing.sleep(min(1.0, max(0.05, limit - current.age)))
        now = look(store, env_name)
        if now is None:
            return None
        if now.etag != seen.etag:
            return now
        current = now
    return seen


def _remove(store: Store, env_name: str, seen: Seen) -> Unlocked:
    try:
        store.delete(artifacts.lock_name(env_name), if_match=seen.etag)
    except ConditionFailedError as err:
        raise BusyError(
            f"the {env_name} lock changed while it was being removed (its holder renewed it, "
            "or another run took it): it is alive; run unlock again to see who holds it"
        ) from err
    return Unlocked(removed=asdict(seen.holder) if seen.holder else {"unreadable": True})


def _revoke(store: Store, env_name: str, seen: Seen, holder: Holder) -> Unlocked:
    at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    mark = f"unlock --force by {_user()}@{socket.gethostname()} at {at}"
    try:
        store.put_bytes(
            artifacts.lock_name(env_name),
            encode(replace(holder, revoked=mark)),
            overwrite=True,
            if_match=seen.etag,
        )
    except ConditionFailedError as err:
        raise BusyError(
            f"the {env_name} lock changed while it was being marked (renewed or taken): "
            "run unlock --force again"
        ) from err
    return Unlocked(revoked=asdict(holder))


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
