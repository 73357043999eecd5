"""Rollback for a function whose callers bypass the alias: `$LATEST` goes back as well.

A caller of the unqualified function (scripts/callers.py: a trigger or external caller
with target "function") runs `$LATEST`, which the release's prepare phase changed. Moving
the alias back does nothing for it, so for such a function the rollback also writes the
target state's code and layers to `$LATEST` (the `$LATEST` steps, `steps.latest_steps`, in
the prepare phase, undone like a deploy's on failure). The code comes from the store (a
package or snapshot holding that CodeSha256); without one the rollback refuses before any
write.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from scripts.callers import bypassed_functions
from scripts.errors import ToolError
from scripts.release import plan
from scripts.release.context import Context
from scripts.release.engine import Step
from scripts.release.facts import CodeSource, Facts
from scripts.release.history import FunctionState
from scripts.release.sources import Sources
from scripts.release.steps import latest_steps, needs_pin


@dataclass(frozen=True, kw_only=True)
class LatestRestore:
    """What one function's `$LATEST` goes back to, and the copy to undo with."""

    code: CodeSource | None
    layers: tuple[str, ...] | None
    # A checked copy of the code `$LATEST` runs now (None when the code does not change).
    undo: CodeSource | None = None
    snapshot: bool = False
    steps: list[Step] = field(default_factory=list)

    def apply_to(self, facts: Facts) -> None:
        facts.target_code = self.code
        facts.target_layers = self.layers
        facts.restore_code = self.undo


def plan_latest(
    ctx: Context, befores: Mapping[str, plan.Before], target: Mapping[str, FunctionState]
) -> dict[str, LatestRestore]:
    """Per function whose callers bypass the alias and whose `$LATEST` differs from the
    target: the steps that put the target's code and layers back on `$LATEST`."""
    bypassed = set(bypassed_functions(ctx.env))
    sources = Sources(ctx.store)
    changing = {
        name: state
        for name, state in target.items()
        if name in bypassed
        and (befores[name].current.code_sha256, befores[name].current.layers)
        != (state.code_sha256, state.layers)
    }
    new_code = [n for n, s in changing.items() if befores[n].current.code_sha256 != s.code_sha256]
    copies = plan.code_copies(ctx.api, sources, {n: befores[n] for n in changing}, needed=new_code)
    found = {}
    for name, state in changing.items():
        latest = befores[name].current
        code = None
        if latest.code_sha256 != state.code_sha256:
            code = sources.find(state.code_sha256)
            if code is None:
                raise ToolError(
                    f"{name}: callers invoke $LATEST, and no package or snapshot in the store "
                    f"holds its target code {state.code_sha256}: nothing was changed"
                )
        layers = state.layers if latest.layers != state.layers else None
        undo, snapshot = copies.get(name, (None, False))
        restore = LatestRestore(code=code, layers=layers, undo=undo, snapshot=snapshot)
        # The `$LATEST` steps the restored values call for: the same list a release and
        # crash recovery take from the steps (steps.latest_steps).
        wanted = plan.facts_for(ctx.env, befores[name], description="", restore=undo)
        restore.apply_to(wanted)
        restore.steps.extend(latest_steps(wanted))
        found[name] = restore
    return found


def with_latest(ctx: Context, befores: Mapping[str, plan.Before]) -> dict[str, plan.Before]:
    """`$LATEST` read where a rollback may write it: callers of the unqualified function
    run it (scripts.release.latest_restore), and an alias missing or on `$LATEST` is pinned."""
    bypassed = set(bypassed_functions(ctx.env))
    return {
        name: replace(before, latest=ctx.api.settled(name))
        if before.latest is None and (name in bypassed or needs_pin(before.alias))
        else before
        for name, before in befores.items()
    }
