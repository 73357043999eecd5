"""Plan, then execute: every change to a function is a step with needed/apply/verify/undo.

Deploy, rollback and crash recovery all run here, so their guarantees are written once:

- Before a step writes, it reads the value it changes; `needed` is false when Lambda
  already reports the target, so a repeated release makes no write at all.
- Every write is guarded by the `RevisionId` the function (or alias) had when we last
  saw it; the revision our own write leaves is remembered per resource.
- After ANY error (a refusal, a lost response, a client timeout) the step reads again and
  decides from what is there: the target means our write landed; the value from before
  means nothing landed; anything else means someone else changed it.
- Undo walks the applied steps backwards and reverts one only while the resource still
  carries the revision our last write left: what another writer changed since is left
  alone and reported ("left at X because Y").
- Reads are not repeated while nothing failed: a run starts from what the plan read, and
  what Lambda reports after a write -- the read that waited for an update to settle, a
  publish's answer, an alias update's answer (the write was guarded, so its answer is
  what callers get from then on) -- is the verification and the next step's "before".
  Any error forgets all of it, and the decision is made from fresh reads. A publish
  renews `$LATEST`'s RevisionId without telling it: the next guard that needs it reads it.
  An alias's "before" may come from the record of our last write to it (Alias.verified
  False): its guard is what checks it (scripts.release.steps._alias).

Functions run in parallel, up to `Timing.lambda_workers` at once (their calls paced by the
client: scripts.release.pacing); a failure or a cancel (a signal, a lost deploy lock) stops
every function before its next write.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from scripts.errors import ToolError
from scripts.release.lambda_api import Api, describe


class Resource(Enum):
    """What a step's `RevisionId` guard belongs to."""

    LATEST = "$LATEST"
    ALIAS = "alias"
    NONE = "none"  # publishing a version creates, never overwrites


class Status(Enum):
    UNCHANGED = "unchanged"  # already at the target: no write
    CHANGED = "changed"
    UNTOUCHED = "untouched"  # failed or cancelled before its first write
    RESTORED = "restored"
    LEFT = "left"  # some write could not be undone; the line says why


class StepError(ToolError):
    """One step of one function failed; the message says what Lambda reports now."""


class CancelledError(StepError):
    """Stopped before a write: another function failed, or the run was cancelled."""


class Step:
    """One change to one function. Subclasses read, write and revert one value."""

    name = "step"
    resource = Resource.NONE
    # The facts its write needs set by the plan (or an earlier step): checked before it.
    needs: tuple[str, ...] = ()
    # Publishing a version cannot be undone and need not be: versions are immutable and
    # nothing serves one until an alias moves (prune-versions removes unused ones).
    reversible = True

    def read(self, run: FunctionRun) -> Any:
        """The value this step changes, as Lambda reports it now."""
        raise NotImplementedError

    def wanted(self, run: FunctionRun) -> Any:
        raise NotImplementedError

    def apply(self, run: FunctionRun) -> str | None:
        """The guarded write(s), then wait until Lambda has applied them. Returns the
        revision the write's own answer reports when that one is final (an alias), else
        None (the engine reads it: `$LATEST` gets a new one when an update settles)."""
        raise NotImplementedError

    def revert(self, run: FunctionRun, value: Any) -> str | None:
        """Put `value` back (guarded by our last revision); returns as `apply` does."""
        return None

    def revision(self, run: FunctionRun) -> str | None:
        """The guard's revision as Lambda reports it now (None when not guarded)."""
        return None

    def landed(self, now: Any, wanted: Any) -> bool:
        """Whether `now` is our write's doing (healthy or not)."""
        return bool(now == wanted)

    def settle(self, run: FunctionRun) -> None:
        """Wait until a write that may have landed is applied: its revision is final then
        (Lambda issues another RevisionId when an update finishes)."""

    def show(self, value: Any) -> str:
        return str(value)


@dataclass
class Applied:
    step: Step
    before: Any


@dataclass
class FunctionRun:
    """One function's part of a release: what it was, what it wrote, what is left."""

    name: str
    api: Api
    # Free-form facts steps share (before-state, targets, versions they found or made).
    facts: dict[str, Any] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)
    applied: list[Applied] = field(default_factory=list)
    # Per resource, the revision our last write left: the guard for our next one.
    ours: dict[Resource, str | None] = field(default_factory=dict)
    # Resources whose revision a write of ours renewed without reporting it (a publish).
    renewed: set[Resource] = field(default_factory=set)
    # What Lambda last reported, by key (a Resource, or a step's own key), while no error
    # has happened since: the steps' reads come from here first (see the module doc).
    seen: dict[object, Any] = field(default_factory=dict)
    status: Status = Status.UNCHANGED
    error: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.applied)

    def line(self) -> str:
        text = {
            Status.UNCHANGED: "already at the target: no write",
            Status.CHANGED: "changed: " + ", ".join(a.step.name for a in self.applied),
            Status.UNTOUCHED: "untouched: nothing was changed",
            Status.RESTORED: "restored to its state before the release (verified by reading)",
            Status.LEFT: "NOT fully restored: " + "; ".join(self.notes),
        }[self.status]
        extra = f" [{self.error}]" if self.error else ""
        return f"{self.name}: {text}{extra}"

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "steps": [a.step.name for a in self.applied],
            "error": self.error,
            "notes": list(self.notes),
            "line": self.line(),
        }


def run_step(run: FunctionRun, step: Step, stop: threading.Event) -> None:
    """Apply one step if needed, deciding from a fresh read whatever happens."""
    before = step.read(run)
    wanted = step.wanted(run)
    if before == wanted:
        return
    if stop.is_set():
        raise CancelledError("stopped before its next write: another function failed, or a stop")
    try:
        left = step.apply(run)
    except Exception as err:
        run.seen.clear()  # decide from what is there now, never from what we saw before
        with contextlib.suppress(Exception):
            step.settle(run)
        now = step.read(run)
        if now == before:
            raise StepError(f"{step.name}: {describe(err)}") from err
        if step.landed(now, wanted):
            # Our write landed: only its response was lost or too slow, or Lambda applied
            # it and then reported the update Failed (then it is ours to undo).
            run.applied.append(Applied(step=step, before=before))
            _claim(run, step, None)
            if now == wanted:
                run.notes.append(f"{step.name} landed although the call failed ({describe(err)})")
                return
            raise StepError(
                f"{step.name}: {describe(err)}; Lambda reports {step.show(now)}"
            ) from err
        # Neither ours nor the old value: another writer's; never ours to undo.
        raise StepError(
            f"{step.name}: {describe(err)}; Lambda now reports {step.show(now)} "
            "(changed by another writer)"
        ) from err
    run.applied.append(Applied(step=step, before=before))
    _claim(run, step, left)
    now = step.read(run)  # what the write's answer (or its settled read) reported
    if now != wanted:
        raise StepError(
            f"{step.name}: Lambda reports {step.show(now)}, expected {step.show(wanted)}"
        )


def _claim(run: FunctionRun, step: Step, left: str | None) -> None:
    """Remember the revision our write left (the guard of our next write or undo)."""
    if step.resource is Resource.NONE:
        return
    if not step.reversible:
        # A publish renews $LATEST's revision and does not say to what: read it when a
        # later write or an undo needs it (most runs never do).
        run.renewed.add(step.resource)
        return
    run.renewed.discard(step.resource)
    # Read afterwards, the revision may be another writer's already: never take it for ours.
    run.ours[step.resource] = left or step.revision(run)


def _still_ours(run: FunctionRun, step: Step, now: Any) -> bool:
    if step.resource is Resource.NONE:
        return True
    if step.resource in run.renewed:
        # Our publish renewed the revision after our write: the value our write left is
        # still there, so the revision Lambda reports now is the one our publish left.
        if now != step.wanted(run):
            return False
        run.renewed.discard(step.resource)
        run.ours[step.resource] = step.revision(run)
        return True
    return step.revision(run) == run.ours.get(step.resource)


def undo(run: FunctionRun) -> None:
    """Revert what this run applied, newest first, each only while the revision is ours."""
    if not run.applied:
        run.status = Status.UNTOUCHED
        return
    run.seen.clear()  # after a failure: fresh reads only
    for applied in reversed(run.applied):
        step = applied.step
        if not step.reversible:
            continue
        try:
            now = step.read(run)
            if now == applied.before:
                continue
            if not _still_ours(run, step, now):
                run.notes.append(
                    f"{step.name} left at {step.show(now)} because it changed since our "
                    "write (another writer)"
                )
                continue
            left = step.revert(run, applied.before)
            run.ours[step.resource] = left or step.revision(run)
            now = step.read(run)
            if now != applied.before:
                run.notes.append(
                    f"{step.name} left at {step.show(now)} because the revert did not take "
                    f"(expected {step.show(applied.before)})"
                )
        except Exception as err:
            run.seen.clear()
            run.notes.append(f"{step.name} not reverted because {describe(err)}")
    run.status = Status.LEFT if run.notes and _unreverted(run.notes) else Status.RESTORED


def _unreverted(notes: Sequence[str]) -> bool:
    return any(" left at " in n or " not reverted " in n for n in notes)


@dataclass
class Executor:
    """Runs a phase of steps for every function in parallel; undoes them all on request."""

    runs: Mapping[str, FunctionRun]
    # Set from outside (a signal, a lost lock) or inside (a failure): no further writes.
    stop: threading.Event = field(default_factory=threading.Event)
    say: Callable[[str], None] = lambda _line: None
    _say_lock: threading.Lock = field(default_factory=threading.Lock)

    def _report(self, line: str) -> None:
        with self._say_lock:
            self.say(line)

    def phase(self, steps: Mapping[str, Sequence[Step]]) -> dict[str, BaseException]:
        """Apply `steps[name]` in order for each function; returns the failures."""
        failures: dict[str, BaseException] = {}

        def work(name: str) -> None:
            run = self.runs[name]
            try:
                for step in steps.get(name, ()):
                    applied_before = len(run.applied)
                    run_step(run, step, self.stop)
                    if len(run.applied) > applied_before:
                        self._report(f"  {name}: {step.name} done")
            except Exception as err:
                failures[name] = err
                run.error = describe(err)
                self.stop.set()

        names = [name for name in self.runs if steps.get(name)]
        if names:
            with ThreadPoolExecutor(max_workers=self._workers(len(names))) as pool:
                list(pool.map(work, names))
        return failures

    def _workers(self, count: int) -> int:
        runs = list(self.runs.values())
        limit = runs[0].api.timing.lambda_workers if runs else 1
        return max(1, min(count, limit))

    def undo_all(self) -> None:
        def work(run: FunctionRun) -> None:
            undo(run)
            if run.applied:
                self._report(f"  {run.line()}")

        with ThreadPoolExecutor(max_workers=self._workers(len(self.runs))) as pool:
            list(pool.map(work, self.runs.values()))

    def settle_statuses(self) -> None:
        """After success: CHANGED where something was applied, else UNCHANGED."""
        for run in self.runs.values():
            run.status = Status.CHANGED if run.applied else Status.UNCHANGED


def first_error(failures: Mapping[str, BaseException]) -> BaseException | None:
    """The failure that caused the others (a cancel is a consequence, not a cause)."""
    real = [e for e in failures.values() if not isinstance(e, CancelledError)]
    found = real or list(failures.values())
    return found[0] if found else None
