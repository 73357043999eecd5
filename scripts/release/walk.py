"""Where `rollback --previous` goes: one release back from what callers are served now.

Every record names, per function, what callers were served before it (the version and
that version's own code and layers) and which release's state a rollback serves, so the
walk needs no guess:

- the aliases serve a succeeded release alone: back to the state before the release that
  state is (a rollback serves an earlier release; a second rollback walks on, never
  toggles), named by the older release that targeted it, else `before:ID`;
- the newest release failed and left callers on a mixture of its before-state and its
  target (an undo that could not finish): back to its before-state, the last state they
  were all served;
- callers are served `before:ID`, the oldest state recorded: nothing older is known.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from scripts.errors import BadInputError, ToolError
from scripts.release import history, plan
from scripts.release.history import FunctionState, ReleaseRecord

if TYPE_CHECKING:
    from scripts.release.context import Context

# A rollback to a state no release targeted (what callers had before the first one, or
# before a release that followed a mixture) serves `before:RELEASE_ID`.
BEFORE = "before:"


def serving_release(
    records: Sequence[ReleaseRecord], befores: Mapping[str, plan.Before]
) -> ReleaseRecord | None:
    """The newest succeeded release whose target versions every alias serves alone."""
    for record in records:
        if not record.succeeded:
            continue
        if all(
            name in befores
            and befores[name].alias is not None
            and not befores[name].alias.weights  # type: ignore[union-attr]
            and befores[name].alias_version == entry.target.version
            for name, entry in record.functions.items()
        ):
            return record
    return None


def by_id(records: Sequence[ReleaseRecord], release_id: str) -> ReleaseRecord | None:
    return next((r for r in records if r.id == release_id), None)


def torn_release(
    records: Sequence[ReleaseRecord], befores: Mapping[str, plan.Before]
) -> ReleaseRecord | None:
    """The newest release, when it failed and left callers on a mixture of its before-state
    and its target (an undo that could not finish): the last state they were all served
    is its before-state."""
    record = next((r for r in records if r.state != history.STARTED), None)
    if record is None or record.state != history.FAILED or not record.functions:
        return None
    moved = False
    for name, entry in record.functions.items():
        alias = befores[name].alias if name in befores else None
        if alias is None:
            return None
        serving = {alias.version, *alias.weights}
        if not serving <= {entry.before.version, entry.target.version}:
            return None
        moved = moved or entry.target.version in serving - {entry.before.version}
    return record if moved else None


def previous_target(
    records: Sequence[ReleaseRecord], befores: Mapping[str, plan.Before]
) -> tuple[dict[str, FunctionState], str, ReleaseRecord]:
    """(per function: the state to return to, the release id that state is, the record
    whose before-state it is)."""
    current = serving_release(records, befores)
    if current is not None:
        if current.serves.startswith(BEFORE):
            raise ToolError(
                f"callers are served the state before release {current.serves[len(BEFORE) :]}, "
                "the oldest state recorded: nothing older to return to; use --to RELEASE_ID "
                "or --package-key"
            )
        base = by_id(records, current.serves)
        if base is None or base.serves != base.id:
            raise ToolError(
                f"release {current.serves} (served now) is not in the recent history: use --to"
            )
    else:
        base = torn_release(records, befores)
        if base is None:
            raise ToolError(
                "the aliases serve no recorded release (changed by hand, or no history yet): "
                "see `status`, then use --to RELEASE_ID"
            )
    # What callers were served before `base`: the versions with their own code and layers.
    target = {name: entry.before for name, entry in base.functions.items()}
    missing = sorted(name for name, state in target.items() if state.version is None)
    if missing:
        raise ToolError(
            f"nothing older than release {base.id} is recorded for {', '.join(missing)}: "
            "it is the first release; use --to RELEASE_ID or --package-key"
        )
    older = [r for r in records if r.id < base.id]
    match = next(
        (
            r
            for r in older
            if r.succeeded
            and r.serves == r.id
            and all(
                r.functions.get(n) is not None and r.functions[n].target.version == s.version
                for n, s in target.items()
            )
        ),
        None,
    )
    if match is not None:
        # That state is a recorded release: name it, so the next rollback walks on from it.
        target = {name: match.functions[name].target for name in target}
    return target, (match.id if match else f"{BEFORE}{base.id}"), base


def legacy_states(
    ctx: Context, target: Mapping[str, FunctionState], record: ReleaseRecord
) -> dict[str, FunctionState]:
    """A format-1 before-state as callers were served it: each version's own code and
    layers, read from Lambda (the record kept `$LATEST`'s beside the version number)."""
    ctx.say(
        f"warning: release {record.id} was recorded by an earlier version of this tool "
        "(record format 1): its before-state names each alias's version beside $LATEST's "
        "code and layers; taking each version's own code and layers from Lambda"
    )
    states: dict[str, FunctionState] = {}
    for name, state in target.items():
        found = ctx.api.version(name, state.version) if state.version else None
        if found is None:
            raise BadInputError(f"{name}: version {state.version} no longer exists (pruned?)")
        states[name] = replace(state, code_sha256=found.code_sha256, layers=found.layers)
    return states


def unchanged_since(
    records: Sequence[ReleaseRecord],
    base: ReleaseRecord,
    befores: Mapping[str, plan.Before],
    target: Mapping[str, FunctionState],
) -> set[str]:
    """Functions whose target version need not be read: `--previous` back to what the newest
    release's own plan read each alias serving (its before-state), for aliases as that
    release's switch left them (taken from its record; the switch's RevisionId guard
    confirms it). A guard that holds means nothing replaced the function since then
    (replacing a function removes its aliases) and Lambda never reuses a version number:
    the version still holds that code and layers. Any other case reads it."""
    if not records or records[0].id != base.id:
        return set()
    return {
        name
        for name, state in target.items()
        if (alias := befores[name].alias) is not None
        and not alias.verified
        and name in base.functions
        # What the walk named (an older release's target) is what that plan read.
        and _holds(state) == _holds(base.functions[name].before)
    }


def _holds(state: FunctionState) -> tuple[str | None, str, tuple[str, ...]]:
    return state.version, state.code_sha256, state.layers
