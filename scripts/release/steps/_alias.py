"""The shared shape of the alias steps (pin, switch, alias back): create or move the alias
guarded by its RevisionId, check where it sends callers, delete it to undo a creation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from environments.release_calls import ALIAS, QUALIFIED, Call, StepCalls
from scripts.release.engine import FunctionRun, Resource
from scripts.release.facts import facts
from scripts.release.lambda_api import Alias
from scripts.release.steps._base import ReleaseStep, _alias, _guard, _revision

GET_ALIAS = Call("GetAlias", ALIAS)
# What an alias sends callers to, read back after moving it (another writer shows here).
SERVED = Call("GetFunction", QUALIFIED)
ALIAS_WRITES = (Call("CreateAlias", ALIAS), Call("UpdateAlias", ALIAS))
DELETE_ALIAS = Call("DeleteAlias", ALIAS)
# Create or move the alias (reading its revision first); undoing a move that created it (a
# function had none) removes it.
ALIAS_MOVE = StepCalls(
    read=(GET_ALIAS,),
    write=(GET_ALIAS, *ALIAS_WRITES, SERVED),
    undo=(GET_ALIAS, *ALIAS_WRITES, DELETE_ALIAS, SERVED),
)


def _serves(alias: Alias | None) -> Any:
    return None if alias is None else alias.serves


class _AliasStep(ReleaseStep):
    resource = Resource.ALIAS

    def read(self, run: FunctionRun) -> Any:
        return _serves(_alias(run))

    def revision(self, run: FunctionRun) -> str | None:
        return _revision(_alias(run))

    def _move(self, run: FunctionRun, version: str, weights: Mapping[str, float]) -> str | None:
        """Create or move the alias; returns the RevisionId its answer reports."""
        f = facts(run)
        if _alias(run) is None:
            created = run.api.create_alias(
                run.name, alias=f.alias_name, version=version, description=f.description
            )
            self._verify(run, created)
            return created.revision_id
        revision = _guard(
            run, Resource.ALIAS, f.before_alias.revision_id if f.before_alias else None
        )
        moved = run.api.update_alias(
            run.name, alias=f.alias_name, version=version, weights=weights, revision_id=revision
        )
        self._verify(run, moved)
        return moved.revision_id

    def _verify(self, run: FunctionRun, answer: Alias) -> None:
        """Read back where callers go now (a cheap read): another writer may have moved the
        alias right after us. Only when it did is the whole alias read again (GetAlias)."""
        run.seen[Resource.ALIAS] = answer
        if run.api.alias_version(run.name, answer.name) != answer.version:
            run.seen.pop(Resource.ALIAS)

    def revert(self, run: FunctionRun, value: Any) -> str | None:
        if value is None:
            run.api.delete_alias(run.name, alias=facts(run).alias_name)
            run.seen[Resource.ALIAS] = None
            return None
        version, weights = value
        return self._move(run, version, dict(weights))

    def show(self, value: Any) -> str:
        if value is None:
            return "no alias"
        version, weights = value
        extra = ", ".join(f"{v} at {w:.0%}" for v, w in weights)
        return f"alias on version {version}" + (f" (+{extra})" if extra else "")
