"""The path every release takes, whatever planned it: lock, record, prepare, switch, record.

    lock (conditional create, lease renewed)   -> exit 3 when another run holds it
    resolve a `started` record a dead run left   (scripts.release.recover)
    record `started`: target + every function's exact before-state
    prepare: $LATEST, versions (callers see nothing)   -> on failure: undo, `failed`
    record the versions prepare found or made
    hooks on the new versions (scripts.release.checks) -> on failure: undo, `failed`
    switch: aliases (a canary bakes against alarms)    -> on failure: undo, `failed`
    smoke checks through the aliases                   -> on failure: undo, `failed`
    record `succeeded`, release the lock

A signal stops further writes and takes the failure path; a lost lock stops everything at
once and leaves the release to whoever took the lock (it resolves the `started` record).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any, NoReturn

from scripts.errors import ConditionFailedError, ToolError
from scripts.release import dry_run, history, lock
from scripts.release.canary import Canary, bake
from scripts.release.checks import Checks
from scripts.release.context import Context
from scripts.release.engine import (
    CancelledError,
    Executor,
    FunctionRun,
    Resource,
    Status,
    Step,
    first_error,
)
from scripts.release.facts import facts
from scripts.release.history import AliasSeen, FunctionEntry, RecordWriter, ReleaseRecord
from scripts.release.lambda_api import Alias, describe
from scripts.release.logs import error_watch
from scripts.release.recover import resolve_unfinished
from scripts.release.renewer import Renewer
from scripts.release.steps import Switch


class ReleaseFailedError(ToolError):
    """The release did not complete; every function says what it was left at."""

    def __init__(
        self, headline: str, record: ReleaseRecord | None, runs: Mapping[str, FunctionRun]
    ):
        super().__init__("\n".join([headline, *(f"  {run.line()}" for run in runs.values())]))
        self.headline = headline
        self.record = record
        self.runs = dict(runs)

    def result(self) -> dict[str, Any]:
        """The one JSON object `--json` prints on failure."""
        return {
            "error": self.headline,
            "release": self.record.id if self.record else None,
            "state": self.record.state if self.record else None,
            "functions": {name: run.to_json() for name, run in self.runs.items()},
            "checks": self.record.checks if self.record else None,
        }


@contextlib.contextmanager
def session(ctx: Context, *, command: str, wait_s: float = 0.0) -> Iterator[lock.Lock | None]:
    """Hold the environment's lock for the body; resolve what a dead run left first.
    A dry run takes no lock and resolves nothing: it writes nothing."""
    if ctx.dry_run:
        yield None
        return
    held = lock.acquire(
        ctx.store,
        ctx.env.name,
        command=command,
        timing=ctx.timing,
        wait_s=wait_s,
        say=ctx.say,
        stop=ctx.stop,
    )

    def lost(message: str) -> None:
        ctx.lock_lost = True
        ctx.cancel(message)

    def revoked(message: str) -> None:
        # `unlock --force`: the lock is still ours; stop like a signal, put back, release.
        ctx.say(f"warning: {message}: stopping, then putting back what changed")
        ctx.cancel(message)

    ctx.held = held
    try:
        with Renewer(held, on_lost=lost, on_revoked=revoked) as renewer:
            ctx.notice_revocation = renewer.notice_revocation
            resolve_unfinished(ctx, resolver=command)
            yield held
    finally:
        ctx.held = None
        ctx.notice_revocation = lambda: None
        if not ctx.lock_lost and not held.release():
            ctx.say(f"warning: the {ctx.env.name} lock was no longer ours at the end")


def entries(runs: Mapping[str, FunctionRun], record: ReleaseRecord) -> dict[str, FunctionEntry]:
    """The record's functions with the versions prepare found or made, and the outcomes."""
    updated: dict[str, FunctionEntry] = {}
    for name, entry in record.functions.items():
        run = runs.get(name)
        if run is None:
            updated[name] = entry
            continue
        f = facts(run)
        updated[name] = replace(
            entry,
            before=replace(entry.before, version=entry.before.version or f.baseline_version),
            target=replace(entry.target, version=f.target_version or entry.target.version),
            outcome=run.to_json(),
            alias_seen=_alias_seen(run),
        )
    return updated


def _alias_seen(run: FunctionRun) -> AliasSeen | None:
    """The alias as the run last had it first-hand (a write's answer or a read), or as the
    plan took it from the record when the run never wrote it (still for a guard to check)."""
    alias = run.seen.get(Resource.ALIAS)
    if not isinstance(alias, Alias) or not alias.revision_id or facts(run).alias_reread:
        return None
    return AliasSeen(
        version=alias.version, revision_id=alias.revision_id, weights=dict(alias.weights)
    )


def execute(
    ctx: Context,
    *,
    record: ReleaseRecord,
    runs: Mapping[str, FunctionRun],
    prepare: Mapping[str, Sequence[Step]],
    switch: Mapping[str, Sequence[Step]],
    canary: Canary | None = None,
    checks: Checks | None = None,
) -> ReleaseRecord:
    """Run a planned release through the failure paths described above."""
    if ctx.stop.is_set():
        raise ToolError(f"stopped before any change: {ctx.reason}")
    writer = RecordWriter(ctx.store, record)
    writer.write()  # before the first change: a failure here leaves nothing to undo
    ctx.say(f"  release {record.id} started ({record.kind})")
    if ctx.held is not None:
        # The lock names the release it is making: a second run's "busy" line says which.
        try:
            ctx.held.renew(release_id=record.id)
        except ConditionFailedError:
            raise  # taken over: stop before the first change
        except ToolError as err:
            ctx.say(f"  warning: the lock could not name release {record.id}: {err}")
        ctx.notice_revocation()
    executor = Executor(runs, stop=ctx.stop.event, say=ctx.say)
    try:
        _phase(ctx, executor, prepare, "prepare")
        _record(writer, ctx=ctx, functions=entries(runs, writer.record))
        switched = [name for name, steps in switch.items() if steps]
        new = {name: v for name, run in runs.items() if (v := facts(run).target_version)}
        if checks is not None:  # callers still get the old versions: nothing to switch back
            _not_stopped(ctx, "before the hooks")
            failed = checks.before_switch(new, switched, canary=canary is not None)
            _checked(writer, checks, failed, "nothing was switched")
        _phase(ctx, executor, switch, "switch")
        if canary is not None:
            _canary(ctx, executor=executor, runs=runs, canary=canary, writer=writer, switch=switch)
        if checks is not None:
            failed = checks.run_smoke({name: ctx.env.alias_name for name in switched})
            _checked(writer, checks, failed, "switching every alias back")
        executor.settle_statuses()
        return _record(
            writer,
            ctx=ctx,
            state=history.SUCCEEDED,
            ended_at=history.now(),
            functions=entries(runs, writer.record),
        )
    except _AbortError as abort:
        _fail(ctx, executor, writer, runs, abort.headline)
    except ToolError as err:
        _fail(ctx, executor, writer, runs, str(err))
    except (Exception, KeyboardInterrupt) as err:
        # A bug, or an error nothing above expected: every alias still goes back before
        # the process exits, and the record says what happened.
        _fail(ctx, executor, writer, runs, f"unexpected {type(err).__name__}: {describe(err)}")


def release(
    ctx: Context,
    *,
    record: ReleaseRecord,
    runs: Mapping[str, FunctionRun],
    prepare: Mapping[str, Sequence[Step]],
    switch: Mapping[str, Sequence[Step]],
    canary: Canary | None = None,
    checks: Checks | None = None,
) -> dict[str, Any]:
    """Run a planned release unless it changes nothing, and report each function.

    Nothing to change is not a release: no record is written, so the history stays a list
    of distinct states that rollback can walk.
    """
    if ctx.dry_run:
        return dry_run.report(ctx, record=record, runs=runs, prepare=prepare, switch=switch)
    final = (
        execute(
            ctx,
            record=record,
            runs=runs,
            prepare=prepare,
            switch=switch,
            canary=canary,
            checks=checks,
        )
        if prepare or switch
        else None
    )
    for run in runs.values():
        ctx.say(f"  {run.line()}")
    return {
        "env": ctx.env.name,
        "release": final.id if final else None,
        "state": final.state if final else "unchanged",
        "functions": {name: run.to_json() for name, run in runs.items()},
        "checks": final.checks if final else None,
    }


def _not_stopped(ctx: Context, when: str) -> None:
    if ctx.stop.is_set():
        raise _AbortError(f"stopped {when}: {ctx.reason or 'cancelled'}")


def _checked(writer: RecordWriter, checks: Checks, failed: Any, then: str) -> None:
    """Record what the checks answered; a failure takes the release's failure path."""
    if checks.unrecorded:
        _record(writer, checks=checks.to_json())
    if failed is not None:
        raise _AbortError(f"{failed.line()}: {then}")


def _record(writer: RecordWriter, *, ctx: Context | None = None, **changes: Any) -> ReleaseRecord:
    """A history write mid-release; its failure fails the release (nobody would know it).
    A record changed under us most often means a run that took over our lock resolved it
    (we were stalled): then that is the failure to report, and the new holder's to finish."""
    try:
        return writer.write(**changes)
    except ToolError as err:
        if ctx is not None and _lock_taken(ctx):
            raise _AbortError(ctx.reason or "lost the deploy lock to another run") from err
        raise _AbortError(f"history write failed: {err}") from err


def _lock_taken(ctx: Context) -> bool:
    if not ctx.lock_lost and ctx.held is not None:
        try:
            ctx.held.renew()
        except ConditionFailedError:
            ctx.lock_lost = True
        except ToolError:
            return False  # a store hiccup proves nothing
    return ctx.lock_lost


class _AbortError(Exception):
    def __init__(self, headline: str) -> None:
        super().__init__(headline)
        self.headline = headline


def _phase(
    ctx: Context, executor: Executor, steps: Mapping[str, Sequence[Step]], title: str
) -> None:
    failures = executor.phase(steps)
    if ctx.lock_lost:
        raise _AbortError(ctx.reason or "lost the deploy lock")
    cause = first_error(failures)
    if cause is not None and not isinstance(cause, CancelledError):
        raise _AbortError(f"{title} failed: {describe(cause)}")
    # Only cancellations: the stop (a signal) is the cause, and the record must say so.
    if failures or ctx.stop.is_set():
        raise _AbortError(f"{title} stopped: {ctx.reason or 'cancelled'}")


def _canary(
    ctx: Context,
    *,
    executor: Executor,
    runs: Mapping[str, FunctionRun],
    canary: Canary,
    writer: RecordWriter,
    switch: Mapping[str, Sequence[Step]],
) -> None:
    try:
        watch = None
        if ctx.logs is not None:
            new = {name: v for name, run in runs.items() if (v := facts(run).target_version)}
            watch = error_watch(ctx.env, ctx.logs(), new, say=ctx.say)
        verdict = bake(ctx, canary, watch=watch.poll if watch else None)
    except Exception as err:  # CloudWatch 500, throttling, a bug: never leave it weighted
        verdict = f"the bake failed ({type(err).__name__}): {describe(err)}"
    _record(writer, ctx=ctx, canary={**canary.to_json(), "result": verdict})
    if verdict != "promote":
        raise _AbortError(f"canary switched back: {verdict}")
    for run in runs.values():
        facts(run).canary_weight = None
    _phase(ctx, executor, {name: [Switch()] for name, steps in switch.items() if steps}, "promote")


def _fail(
    ctx: Context,
    executor: Executor,
    writer: RecordWriter,
    runs: Mapping[str, FunctionRun],
    headline: str,
) -> NoReturn:
    # Undo writes over whatever is there now: first make sure the lock is still ours (a
    # stalled run may wake up after another run took the lock and made its release).
    # (A lock revoked by `unlock --force` is still ours: undo. A store hiccup proves
    # nothing: the undo's revision guards still apply.)
    if _lock_taken(ctx):
        # Whoever took the lock resolves our `started` record; two restorers would race.
        executor.settle_statuses()  # what it changed, not "no write"
        raise ReleaseFailedError(
            f"{headline}; the new lock holder resolves this release", writer.record, runs
        )
    ctx.say(f"  {headline}: putting back what this release changed")
    executor.undo_all()
    counts = {status: sum(1 for r in runs.values() if r.status is status) for status in Status}
    summary = (
        f"{headline}; {counts[Status.RESTORED]} restored, {counts[Status.UNTOUCHED]} untouched"
        + (f", {counts[Status.LEFT]} NOT fully restored" if counts[Status.LEFT] else "")
    )
    try:
        record = writer.write(
            state=history.FAILED,
            ended_at=history.now(),
            error=summary,
            functions=entries(runs, writer.record),
        )
    except ToolError as err:
        summary += f" (and the failure record was not written: {err})"
        record = writer.record
    raise ReleaseFailedError(summary, record, runs)
