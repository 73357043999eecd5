"""One deploy, rollback or prune per environment at a time: a lock object with a lease.

The lock is `deployments/ENV/lock.json`, created with a conditional write (S3
`If-None-Match: *`; an exclusive create in the local store), naming who holds it, where,
since when, for which release and for how long a lease. Its holder renews it every third
of the lease, each renewal conditional on the ETag of its own last write: if the renewal
finds another version, the lock was taken over and the holder stops writing at once.

A lease is measured by the STORE's clock, never the caller's: the lock's age is the
store's time now (S3's Date header) minus the store's time of its last write (its
LastModified). A caller whose clock runs 300 s ahead sees a live lock exactly as young as
it is. A lock is taken over, with a warning naming the old holder, only when its lease
expired by that clock (its run died, or stalled longer than a lease: it then finds its
lock lost before its next write) or when its holder is provably gone (same host, and that
process no longer exists).

`unlock` (scripts.release.unlock) never removes a lock whose holder is renewing it.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import artifacts
from scripts import settings
from scripts.errors import BusyError, ConditionFailedError, ObjectExistsError, ToolError
from scripts.release.timing import Timing
from scripts.stop import Stop
from scripts.store import Store

# S3 reports LastModified and Date in whole seconds: an age is exact to about a second.
MARGIN_S = 1.0


@dataclass(frozen=True, kw_only=True)
class Holder:
    token: str
    command: str
    user: str
    host: str
    pid: int
    started_at: float
    expires_at: float  # by the holder's own clock: shown, never decided on
    release_id: str | None = None
    # Identifies the process beyond its pid (pids are reused): its start time in ticks.
    process_start: str | None = None
    # The lease the holder renews within; None in locks written before it was recorded.
    lease_s: float | None = None
    # Set by `unlock --force`: who asked the holder to stop, and when. The holder keeps
    # the mark (and its lease) while it puts back what it changed, then releases.
    revoked: str | None = None

    def lease(self, default: float) -> float:
        return self.lease_s if self.lease_s else default

    def describe(self, age: float | None, *, default_lease: float) -> str:
        """Who holds it, and its lease by the store's clock (`age`: since its last write)."""
        if age is None:
            lease = "lease unknown: the store reports no time"
        else:
            left = self.lease(default_lease) - age
            lease = f"lease {left:.0f}s left" if left > 0 else f"lease expired {-left:.0f}s ago"
        release = f", release {self.release_id}" if self.release_id else ""
        stopping = f", asked to stop by {self.revoked}" if self.revoked else ""
        return (
            f"{self.command} by {self.user}@{self.host} pid {self.pid}{release}{stopping} ({lease})"
        )


@dataclass(frozen=True)
class Seen:
    """The lock as the store holds it now (`holder` None: unreadable)."""

    holder: Holder | None
    etag: str
    age: float | None  # seconds since its last write, by the store's clock

    def expired(self, default_lease: float) -> bool:
        """Not renewed for a whole lease, by the store's clock (plus its resolution)."""
        if self.holder is None:
            return True
        if self.age is None:
            return False  # no store time: nothing is provable, the lock stays
        return self.age > self.holder.lease(default_lease) + MARGIN_S

    def takeable(self, default_lease: float) -> bool:
        return self.expired(default_lease) or (self.holder is not None and is_gone(self.holder))

    def describe(self, default_lease: float) -> str:
        if self.holder is None:
            return "an unreadable lock"
        return self.holder.describe(self.age, default_lease=default_lease)


def _process_start(pid: int) -> str | None:
    """Field 22 of /proc/PID/stat (start time); None where /proc is unavailable."""
    try:
        stat = open(f"/proc/{pid}/stat", encoding="ascii").read()  # noqa: PTH123, SIM115
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def is_gone(holder: Holder) -> bool:
    """Provably dead: it ran on this host and its process no longer exists (or the pid now
    belongs to a process started later). On another host nothing is provable: wait out
    the lease."""
    if holder.host != socket.gethostname():
        return False
    try:
        os.kill(holder.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, someone else's
    current = _process_start(holder.pid)
    return bool(holder.process_start and current and current != holder.process_start)


def _decode(data: bytes) -> Holder | None:
    try:
        fields: dict[str, Any] = json.loads(data)
        return Holder(**fields)
    except (ValueError, TypeError):
        return None


def encode(holder: Holder) -> bytes:
    return json.dumps(asdict(holder), sort_keys=True).encode()


def look(store: Store, env_name: str) -> Seen | None:
    """The lock as stored, with its age by the store's clock; None when there is none."""
    return _look(store, artifacts.lock_name(env_name))


def _look(store: Store, name: str) -> Seen | None:
    stored = store.get(name)
    if stored is None:
        return None
    return Seen(holder=_decode(stored.data), etag=stored.etag, age=stored.age)


def read_holder(store: Store, env_name: str) -> tuple[Holder | None, str | None, bool]:
    """(holder, etag, present): the lock as stored; an unreadable lock is present."""
    seen = look(store, env_name)
    if seen is None:
        return None, None, False
    return seen.holder, seen.etag, True


@dataclass
class Lock:
    """A held lock: renew it, release it, and know whether it was lost or revoked."""

    store: Store
    name: str
    holder: Holder
    etag: str
    timing: Timing
    taken_over: Holder | None = None
    # Our clock at our last successful write: how long our own lease has left.
    renewed_at: float = 0.0
    # The renewer thread and the run (naming its release) both renew: one at a time, or
    # the second write would be refused by the first's new ETag and read as a lost lock.
    _renewing: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def revoked(self) -> str | None:
        return self.holder.revoked

    def renew(self, *, release_id: str | None = None) -> None:
        """Extend the lease; ConditionFailedError when the lock is no longer ours. A lock
        revoked by `unlock --force` is still ours: renewing keeps the mark (see `revoked`)."""
        with self._renewing:
            holder = replace(
                self.holder,
                expires_at=self.timing.clock() + self.timing.lock_lease_s,
                release_id=release_id or self.holder.release_id,
            )
            try:
                self.etag = self.store.put_bytes(
                    self.name, encode(holder), overwrite=True, if_match=self.etag
                )
            except ConditionFailedError:
                seen = _look(self.store, self.name)
                mine = seen is not None and seen.holder is not None
                if not mine or seen.holder.token != self.holder.token:  # type: ignore[union-attr]
                    raise
                # Our own lock, marked by `unlock --force`: keep the mark, stop the run.
                holder = replace(holder, revoked=seen.holder.revoked)  # type: ignore[union-attr]
                self.etag = self.store.put_bytes(
                    self.name,
                    encode(holder),
                    overwrite=True,
                    if_match=seen.etag,  # type: ignore[union-attr]
                )
            self.holder = holder
            self.renewed_at = self.timing.clock()

    def release(self) -> bool:
        """Remove the lock if it is still ours; False when someone took it meanwhile."""
        try:
            self.store.delete(self.name, if_match=self.etag)
        except ConditionFailedError:
            # Marked by `unlock --force` after our last renewal (the run had just ended):
            # still ours to remove.
            seen = _look(self.store, self.name)
            if seen is None or seen.holder is None or seen.holder.token != self.holder.token:
                return False
            try:
                self.store.delete(self.name, if_match=seen.etag)
            except ConditionFailedError:
                return False
        return True


def acquire(
    store: Store,
    env_name: str,
    *,
    command: str,
    timing: Timing,
    wait_s: float = 0.0,
    say: Callable[[str], None] = lambda _line: None,
    stop: Stop | None = None,
) -> Lock:
    """Take the environment's lock, waiting up to `wait_s`; BusyError (exit 3) otherwise.
    A `stop` (a signal) ends the wait at once: nothing was changed yet."""
    name = artifacts.lock_name(env_name)
    deadline = timing.clock() + wait_s
    pid = os.getpid()
    while True:
        started = timing.clock()
        holder = Holder(
            token=uuid.uuid4().hex,
            command=command,
            user=settings.GITHUB_ACTOR.read() or _user(),
            host=socket.gethostname(),
            pid=pid,
            started_at=started,
            expires_at=started + timing.lock_lease_s,
            process_start=_process_start(pid),
            lease_s=timing.lock_lease_s,
        )
        data = encode(holder)
        try:
            etag = store.put_bytes(name, data, overwrite=False)
            return Lock(store=store, name=name, holder=holder, etag=etag, timing=timing)
        except ObjectExistsError:
            pass
        seen = look(store, env_name)
        if seen is None:
            continue  # released between our write and our read: try again at once
        what = seen.describe(timing.lock_lease_s)
        if seen.takeable(timing.lock_lease_s):
            try:
                etag = store.put_bytes(name, data, overwrite=True, if_match=seen.etag)
            except ConditionFailedError:
                continue  # someone else took it over or renewed it first: look again
            say(f"warning: took over the {env_name} lock from {what}")
            return Lock(
                store=store,
                name=name,
                holder=holder,
                etag=etag,
                timing=timing,
                taken_over=seen.holder,
                renewed_at=timing.clock(),
            )
        if stop is not None and stop.is_set():
            raise ToolError(
                f"{stop.reason or 'stopped'} while waiting for the {env_name} lock ({what}): "
                "nothing was changed"
            )
        if timing.clock() >= deadline:
            raise BusyError(
                f"{env_name} is busy: {what}; wait with --wait SECONDS, or see who holds it "
                f"and whether it is alive: python -m scripts unlock --env {env_name}"
            )
        timing.sleep(min(2.0, max(0.05, deadline - timing.clock())))


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
