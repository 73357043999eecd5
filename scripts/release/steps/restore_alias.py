"""`alias back`: crash recovery puts the alias back to what callers were served before a
dead run (no alias before: removed). Recovery then runs the `$LATEST` steps."""

from __future__ import annotations

from typing import Any

from environments.release_calls import StepCalls
from scripts.release.engine import FunctionRun, Resource
from scripts.release.facts import facts
from scripts.release.steps._alias import (
    ALIAS_WRITES,
    DELETE_ALIAS,
    GET_ALIAS,
    SERVED,
    _AliasStep,
)
from scripts.release.steps._base import Phase


class RestoreAlias(_AliasStep):
    """Crash recovery: the alias back to what it served before (no alias: removed)."""

    name = "alias back"
    # Its write deletes the alias when callers had none before.
    calls = StepCalls(read=(GET_ALIAS,), write=(GET_ALIAS, *ALIAS_WRITES, DELETE_ALIAS, SERVED))
    phase = Phase.RECOVERY

    def __init__(self, serves: Any) -> None:
        self.serves = serves

    def wanted(self, run: FunctionRun) -> Any:
        return self.serves

    def apply(self, run: FunctionRun) -> str | None:
        if self.serves is None:
            run.api.delete_alias(run.name, alias=facts(run).alias_name)
            run.seen[Resource.ALIAS] = None
            return None
        version, weights = self.serves
        return self._move(run, version, dict(weights))
