"""`pin alias`: the alias created on (or moved from `$LATEST` to) the baseline version, so
callers keep the state before the release while `$LATEST` changes."""

from __future__ import annotations

from typing import Any

from scripts.release.engine import FunctionRun
from scripts.release.facts import Facts, facts
from scripts.release.steps._alias import ALIAS_MOVE, _AliasStep
from scripts.release.steps._base import _needed, _planned, needs_pin


class Pin(_AliasStep):
    name = "pin alias"
    needs = ("baseline_version",)  # set by the baseline step before it
    calls = ALIAS_MOVE
    order = 20  # right after the baseline version, before `$LATEST` changes
    dry_run_calls = ("CreateAlias or UpdateAlias",)

    @staticmethod
    def targeted(f: Facts) -> bool:
        return needs_pin(f.before_alias)

    def wanted(self, run: FunctionRun) -> Any:
        return (facts(run).baseline_version, ())

    def apply(self, run: FunctionRun) -> str | None:
        version = _needed(self, run).baseline_version
        return self._move(run, _planned(version, "baseline version"), {})
