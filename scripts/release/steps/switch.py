"""`switch`: the alias to the target version (or weighted to it, for a canary): the step
where callers move."""

from __future__ import annotations

from typing import Any

from scripts.release.engine import FunctionRun
from scripts.release.facts import facts
from scripts.release.steps._alias import ALIAS_MOVE, _AliasStep
from scripts.release.steps._base import Phase, _needed


class Switch(_AliasStep):
    name = "switch"
    needs = ("target_version",)  # set by publish (or the plan, for a rollback)
    calls = ALIAS_MOVE
    phase = Phase.SWITCH
    dry_run_calls = ("UpdateAlias",)

    def wanted(self, run: FunctionRun) -> Any:
        f = facts(run)
        serving = f.serving or f.baseline_version
        if f.canary_weight is not None and serving is not None and serving != f.target_version:
            return (serving, ((f.target_version, f.canary_weight),))
        return (f.target_version, ())

    def apply(self, run: FunctionRun) -> str | None:
        _needed(self, run)
        version, weights = self.wanted(run)
        return self._move(run, version, dict(weights))
