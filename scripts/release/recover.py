"""Resolving a release a dead run left `started` (SIGKILL, a lost runner, a power cut).

The next command that takes the lock reads the history first. When the newest record is
still `started`, its run died between changes, and what Lambda shows now may be torn (new
code, old layer; some aliases moved, others not). The record's before-state is the last
known good state, so it is decided from what is there:

- every alias already serves the record's target versions: the run died after its last
  write, so the record is completed as `succeeded`;
- otherwise every function is put back to the before-state (aliases to the versions
  callers were served, then `$LATEST` to the recorded `latest` from its code copy),
  verified by reading, and the record ends `failed`, naming who resolved it.

When callers had been served some of the dead run's target (a switch or a canary died
midway), they were on a mixture, and the last release they were all served is the one
this puts back: `ctx.put_back` names the record then (`rollback --previous` stops there).

The dead run's own revisions are unknown, so the guards here are the revisions read now;
the lock guarantees no deploy of ours runs meanwhile.
"""

from __future__ import annotations

import artifacts
from scripts.errors import ToolError
from scripts.release import history, plan
from scripts.release.context import Context
from scripts.release.engine import Executor, FunctionRun, Status, Step, first_error
from scripts.release.history import RecordWriter, ReleaseRecord
from scripts.release.lambda_api import describe
from scripts.release.sources import Sources
from scripts.release.steps import RestoreAlias, latest_steps

RECENT = 10


def resolve_unfinished(ctx: Context, *, resolver: str) -> ReleaseRecord | None:
    """Resolve the newest record if it is `started`; returns it as resolved (or None)."""
    records = history.load_releases(ctx.store, ctx.env.name, limit=RECENT, warn=ctx.say)
    if not records or records[0].state != history.STARTED:
        return None
    record = records[0]
    by = record.by.get("user", "?") + "@" + record.by.get("host", "?")
    ctx.say(
        f"warning: release {record.id} ({record.kind} by {by}, started {record.started_at}) "
        "never finished: resolving it first"
    )
    return resolve(ctx, record, resolver=resolver)


def _serves_target(ctx: Context, record: ReleaseRecord, befores: dict[str, plan.Before]) -> bool:
    for name, entry in record.functions.items():
        alias = befores[name].alias
        if entry.target.version is None or alias is None:
            return False
        if alias.version != entry.target.version or alias.weights:
            return False
    return bool(record.functions)


def _partly_served(entry: history.FunctionEntry, before: plan.Before) -> bool:
    """Callers of this function got some of the dead run's target (alone or weighted).
    An alias the run created on the baseline serves what `$LATEST` served: not a move."""
    target = entry.target.version
    if before.alias is None or target is None or target == entry.before.version:
        return False
    return target in {before.alias.version, *before.alias.weights}


def _alias_before(entry: history.FunctionEntry) -> tuple[str, tuple[tuple[str, float], ...]] | None:
    if entry.alias_version is None:
        return None
    return entry.alias_version, tuple(sorted(entry.alias_weights.items()))


def resolve(ctx: Context, record: ReleaseRecord, *, resolver: str) -> ReleaseRecord:
    names = [n for n in record.functions if n in ctx.env.released_function_names]
    # A dead run may have left an update Failed: that is what this puts right.
    befores = plan.read_before(ctx.api, ctx.env, names, failed_ok=True)
    writer = RecordWriter(ctx.store, record, etag=_etag(ctx, record))
    note = f"resolved by a later {resolver} ({history.who().get('host', '?')})"
    if _serves_target(ctx, record, befores):
        ctx.say(f"  every alias serves release {record.id}'s target: recorded as succeeded")
        return writer.write(
            state=history.SUCCEEDED,
            ended_at=history.now(),
            resolves=None,
            error=f"completed after its run died; {note}",
        )
    moved = any(_partly_served(record.functions[n], befores[n]) for n in names)
    sources = Sources(ctx.store)
    runs: dict[str, FunctionRun] = {}
    aliases: dict[str, list[Step]] = {}
    latest: dict[str, list[Step]] = {}
    for name in names:
        entry, before = record.functions[name], befores[name]
        # `$LATEST` as the dead run found it (None: that run never touched it).
        wanted = entry.latest or history.FunctionState(
            code_sha256=before.current.code_sha256, layers=before.current.layers
        )
        copy = sources.find(wanted.code_sha256)
        facts = plan.facts_for(ctx.env, before, description=f"restore {record.id}", restore=copy)
        if before.current.code_sha256 != wanted.code_sha256:
            if copy is None:
                raise ToolError(
                    f"cannot resolve release {record.id}: no copy of {name}'s code "
                    f"{wanted.code_sha256} is in the store; restore it by hand"
                )
            facts.target_code = copy
        if before.current.layers != wanted.layers:
            facts.target_layers = wanted.layers
        runs[name] = plan.new_run(ctx.api, name, facts)
        aliases[name] = [RestoreAlias(_alias_before(entry))]
        latest[name] = latest_steps(facts)
    executor = Executor(runs, say=ctx.say)
    failures = executor.phase(aliases) or executor.phase(latest)
    executor.settle_statuses()
    lines = [run.line() for run in runs.values()]
    if failures:
        cause = first_error(failures)
        writer.write(error=f"resolution by {resolver} failed: {describe(cause) if cause else '?'}")
        raise ToolError(
            f"release {record.id} died mid-way and could not be put back "
            f"({describe(cause) if cause else 'unknown'}): fix the functions by hand, then "
            f"run unlock; per function: {'; '.join(lines)}"
        )
    restored = [r.name for r in runs.values() if r.status is Status.CHANGED]
    ctx.say(f"  put back {len(restored)} function(s) to the state before release {record.id}")
    done = writer.write(
        state=history.FAILED,
        ended_at=history.now(),
        error=f"its run died mid-release; {note}: "
        + (f"restored {', '.join(restored)}" if restored else "nothing had changed"),
    )
    if moved:
        ctx.put_back = done  # callers were moved back: `rollback --previous` stops here
    return done


def _etag(ctx: Context, record: ReleaseRecord) -> str | None:
    stored = ctx.store.get(artifacts.release_record(record.env, record.id))
    return stored.etag if stored else None
