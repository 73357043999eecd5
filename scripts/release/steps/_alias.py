"""The shared shape of the alias steps (pin, switch, alias back): create or move the alias
guarded by its RevisionId (a recorded one refused as stale: read again, go on only if
callers are served what the plan took), delete it to undo a creation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from environments.release_calls import ALIAS, QUALIFIED, Call, StepCalls
from scripts.release.engine import FunctionRun, Resource
from scripts.release.facts import Facts, facts
from scripts.release.lambda_api import Alias, LambdaOpError, error_code
from scripts.release.steps._base import ReleaseStep, _alias, _guard, _planned, _revision

GET_ALIAS = Call("GetAlias", ALIAS)
# A version's own configuration: what a switch reads when the alias it took from the
# record turned out changed (the version a rollback goes to is checked then).
SERVED = Call("GetFunction", QUALIFIED)
ALIAS_WRITES = (Call("CreateAlias", ALIAS), Call("UpdateAlias", ALIAS))
DELETE_ALIAS = Call("DeleteAlias", ALIAS)
# Create or move the alias (its revision from the plan or the record; read again when
# Lambda refuses a stale one); undoing a move that created it (a function had none)
# removes it.
ALIAS_MOVE = StepCalls(
    read=(GET_ALIAS,),
    write=(GET_ALIAS, *ALIAS_WRITES, SERVED),
    undo=(GET_ALIAS, *ALIAS_WRITES, DELETE_ALIAS, SERVED),
)


def _serves(alias: Alias | None) -> Any:
    return None if alias is None else alias.serves


_STALE = "PreconditionFailedException"  # the RevisionId guard refused the write (412)


def _refresh(run: FunctionRun, f: Facts) -> str | None:
    """The alias's RevisionId came from the record of our last write to it, and Lambda has
    another: something touched the alias since. Read it, and go on only when callers are
    served what the plan took from the record and the target version holds what the
    record says (a function replaced since then numbers its versions anew)."""
    assumed = _planned(f.before_alias, "the alias before the release")
    fresh = run.api.alias(run.name, f.alias_name)
    run.seen[Resource.ALIAS] = fresh
    if fresh is None or fresh.serves != assumed.serves:
        raise LambdaOpError(
            f"alias {f.alias_name} was changed by another writer since our last release "
            f"(it serves {_serves(fresh)}, the record says {assumed.serves}): nothing moved; "
            "re-run to plan from what Lambda reports"
        )
    f.before_alias = fresh
    f.alias_reread = True
    if f.target_holds is not None and f.target_version is not None:
        found = run.api.version(run.name, f.target_version)
        held = (found.code_sha256, found.layers) if found else None
        if held != f.target_holds:
            raise LambdaOpError(
                f"version {f.target_version} holds {held}, the record says {f.target_holds}: "
                "refusing a record that does not match Lambda"
            )
    return fresh.revision_id


class _AliasStep(ReleaseStep):
    resource = Resource.ALIAS

    def read(self, run: FunctionRun) -> Any:
        return _serves(_alias(run))

    def revision(self, run: FunctionRun) -> str | None:
        return _revision(_alias(run))

    def _move(self, run: FunctionRun, version: str, weights: Mapping[str, float]) -> str | None:
        """Create or move the alias; returns the RevisionId its answer reports. The answer
        is what callers are served from then on: it is the verification (no read-back)."""
        f = facts(run)
        if _alias(run) is None:
            created = run.api.create_alias(
                run.name, alias=f.alias_name, version=version, description=f.description
            )
            run.seen[Resource.ALIAS] = created
            return created.revision_id
        assumed = f.before_alias
        revision = _guard(run, Resource.ALIAS, assumed.revision_id if assumed else None)
        try:
            moved = run.api.update_alias(
                run.name, alias=f.alias_name, version=version, weights=weights, revision_id=revision
            )
        except ClientError as err:
            recorded = assumed is not None and not assumed.verified
            if error_code(err) != _STALE or not recorded or Resource.ALIAS in run.ours:
                raise
            moved = run.api.update_alias(
                run.name,
                alias=f.alias_name,
                version=version,
                weights=weights,
                revision_id=_refresh(run, f),
            )
        run.seen[Resource.ALIAS] = moved
        return moved.revision_id

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
