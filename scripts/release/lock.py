"""One deploy or rollback per environment at a time: a lock object with a lease.

The lock is `deployments/ENV/lock.json`, created with a conditional write (S3
`If-None-Match: *`; an exclusive create in the local store), naming who holds it, where,
since when and for which release. Its holder renews the lease while it runs, each renewal
conditional on the ETag of its own last write: if the renewal finds another version, the
lock was taken over and the holder must stop writing at once.

A lock is taken over, with a warning naming the old holder, when its lease has expired
(the run died without releasing it) or when its holder is provably gone (same host, and
that process no longer exists). CI runs that die never need a person to deploy again;
`unlock` is for a person who knows better than the lease.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import artifacts
from scripts import settings
from scripts.errors import BusyError, ConditionFailedError, ObjectExistsError, ToolError
from scripts.release.timing import Timing
from scripts.stop import Stop
from scripts.store import Store


@dataclass(frozen=True, kw_only=True)
class Holder:
    token: str
    command: str
    user: str
    host: str
    pid: int
    started_at: float
    expires_at: float
    release_id: str | None = None
    # Identifies the process beyond its pid (pids are reused): its start time in ticks.
    process_start: str | None = None

    def describe(self, clock: Callable[[], float]) -> str:
        left = self.expires_at - clock()
        lease = f"lease {left:.0f}s left" if left > 0 else f"lease expired {-left:.0f}s ago"
        release = f", release {self.release_id}" if self.release_id else ""
        return f"{self.command} by {self.user}@{self.host} pid {self.pid}{release} ({lease})"


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


@dataclass
class Lock:
    """A held lock: renew it, release it, and know whether it was lost."""

    store: Store
    name: str
    holder: Holder
    etag: str
    timing: Timing
    taken_over: Holder | None = None
    lost: threading.Event | None = None
    # The renewer thread and the run (naming its release) both renew: one at a time, or
    # the second write would be refused by the first's new ETag and read as a lost lock.
    _renewing: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def renew(self, *, release_id: str | None = None) -> None:
        with self._renewing:
            holder = replace(
                self.holder,
                expires_at=self.timing.clock() + self.timing.lock_lease_s,
                release_id=release_id or self.holder.release_id,
            )
            data = json.dumps(asdict(holder), sort_keys=True).encode()
            self.etag = self.store.put_bytes(self.name, data, overwrite=True, if_match=self.etag)
            self.holder = holder

    def release(self) -> bool:
        """Remove the lock if it is still ours; False when someone took it meanwhile."""
        try:
            self.store.delete(self.name, if_match=self.etag)
        except ConditionFailedError:
            return False
        return True


def read_holder(store: Store, env_name: str) -> tuple[Holder | None, str | None, bool]:
    """(holder, etag, present): the lock as stored; an unreadable lock is present."""
    stored = store.get(artifacts.lock_name(env_name))
    if stored is None:
        return None, None, False
    return _decode(stored.data), stored.etag, True


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
        )
        data = json.dumps(asdict(holder), sort_keys=True).encode()
        try:
            etag = store.put_bytes(name, data, overwrite=False)
            return Lock(store=store, name=name, holder=holder, etag=etag, timing=timing)
        except ObjectExistsError:
            pass
        current, current_etag, present = read_holder(store, env_name)
        if not present:
            continue  # released between our write and our read: try again at once
        stale = current is None or current.expires_at < timing.clock() or is_gone(current)
        if stale and current_etag is not None:
            try:
                etag = store.put_bytes(name, data, overwrite=True, if_match=current_etag)
            except ConditionFailedError:
                continue  # someone else took it over or renewed it first: look again
            what = current.describe(timing.clock) if current else "an unreadable lock"
            say(f"warning: took over the {env_name} lock from {what}")
            return Lock(
                store=store, name=name, holder=holder, etag=etag, timing=timing, taken_over=current
            )
        what = current.describe(timing.clock) if current else "unknown"
        if stop is not None and stop.is_set():
            raise ToolError(
                f"{stop.reason or 'stopped'} while waiting for the {env_name} lock ({what}): "
                "nothing was changed"
            )
        if timing.clock() >= deadline:
            raise BusyError(
                f"{env_name} is busy: {what}; wait with --wait SECONDS, or if you know that "
                f"run is gone: python -m scripts unlock --env {env_name}"
            )
        timing.sleep(min(2.0, max(0.05, deadline - timing.clock())))


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def unlock(store: Store, env_name: str) -> Mapping[str, Any] | None:
    """Remove the lock whoever holds it; returns what was removed (None: there was none)."""
    holder, etag, present = read_holder(store, env_name)
    if not present:
        return None
    try:
        store.delete(artifacts.lock_name(env_name), if_match=etag)
    except ConditionFailedError as err:
        raise ToolError(
            f"the {env_name} lock changed while it was being removed (a run renewed it): "
            "it is alive; run unlock again only if you are sure"
        ) from err
    return asdict(holder) if holder else {"unreadable": True}


class Renewer:
    """Renews a held lock in the background; sets `lost` when a renewal finds it taken."""

    def __init__(self, lock: Lock, *, on_lost: Callable[[str], None]) -> None:
        self.lock = lock
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._on_lost = on_lost
        self._thread = threading.Thread(target=self._run, name="lock-renewer", daemon=True)

    def __enter__(self) -> Renewer:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        interval = self.lock.timing.lock_lease_s / 3
        while not self._stop.wait(interval):
            try:
                self.lock.renew()
            except ConditionFailedError:
                self.lost.set()
                self._on_lost("the deploy lock was taken over by another run: stopped")
                return
            except ToolError as err:
                # A store hiccup: the lease still has two thirds left; try again next time.
                self._on_lost_soft(str(err))

    def _on_lost_soft(self, message: str) -> None:
        if self.lock.holder.expires_at < self.lock.timing.clock():
            self.lost.set()
            self._on_lost(
                f"the deploy lock could not be renewed before its lease ran out: {message}"
            )
