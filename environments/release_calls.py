"""Every Lambda call the release tooling makes, by the part that makes it, with the IAM
grant each needs: the one list both sides read (issue 16, part 2).

A release step (`scripts/release/steps.py`) names its entry here (`Step.name`); what it
reads, writes and calls to put its value back are declared once, beside the calls the
planning reads, the deps layer and pruning make. The deployer policy
(`infra_constructs/deployer_policy.py`) grants exactly the actions declared here, per
scope, and `tests/scripts/test_step_calls.py` runs every step through the Lambda double
and fails on any call a step makes that its entry does not declare. Adding a step: its
class in steps.py, its entry here (a new operation also goes into `ORDER`), its tests.

Plain data in `environments/` (which imports nothing of ours and no AWS SDK), because the
CDKTF app imports it and `scripts/` never imports `infra_constructs/`.

A call's scope is the resource IAM authorises it against:
- FUNCTION: the function's unqualified ARN (its code and configuration);
- ALIAS: versions and the environment's alias (granted on the function and FUNCTION:ALIAS);
- QUALIFIED: a published version or the alias passed as a qualifier (FUNCTION:*);
- LAYER: the deps layer (publish, list) and its versions (get, delete).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

FUNCTION, ALIAS, QUALIFIED, LAYER = "function", "alias", "qualified", "layer"
SCOPES = (FUNCTION, ALIAS, QUALIFIED, LAYER)

# The order actions appear in the policy: stable, so a new call adds one line to the
# reviewed snapshot instead of reordering it.
ORDER = (
    "GetFunction",
    "GetFunctionConfiguration",
    "UpdateFunctionCode",
    "UpdateFunctionConfiguration",
    "PublishVersion",
    "ListVersionsByFunction",
    "GetAlias",
    "CreateAlias",
    "UpdateAlias",
    "ListAliases",
    "DeleteAlias",
    "DeleteFunction",
    "InvokeFunction",
    "PublishLayerVersion",
    "ListLayerVersions",
    "GetLayerVersion",
    "DeleteLayerVersion",
)


@dataclass(frozen=True)
class Call:
    operation: str  # the Lambda API operation, as botocore names it
    scope: str

    def __post_init__(self) -> None:
        if self.operation not in ORDER or self.scope not in SCOPES:
            raise ValueError(f"{self}: add the operation to ORDER; scope one of {SCOPES}")

    @property
    def action(self) -> str:
        return f"lambda:{self.operation}"


@dataclass(frozen=True)
class StepCalls:
    """One release step: the calls that read its value, write it, and put it back."""

    read: tuple[Call, ...]
    write: tuple[Call, ...]
    undo: tuple[Call, ...] = ()

    @property
    def calls(self) -> frozenset[Call]:
        return frozenset((*self.read, *self.write, *self.undo))


# `$LATEST`, and waiting for an update: GetFunction (its own, larger quota) by the paced
# client, GetFunctionConfiguration where a read needs no more than the configuration.
_LATEST = (Call("GetFunction", FUNCTION), Call("GetFunctionConfiguration", FUNCTION))
_GET_ALIAS = Call("GetAlias", ALIAS)
# A version's own configuration: what a switch reads when the alias it took from the
# record turned out changed (the version a rollback goes to is checked then).
_SERVED = Call("GetFunction", QUALIFIED)
_ALIAS_WRITES = (Call("CreateAlias", ALIAS), Call("UpdateAlias", ALIAS))
_DELETE_ALIAS = Call("DeleteAlias", ALIAS)
# Find a version equal to `$LATEST`, else publish one (versions are never undone).
_VERSION = StepCalls(
    read=(*_LATEST, Call("ListVersionsByFunction", ALIAS)),
    write=(*_LATEST, Call("PublishVersion", ALIAS)),
)

# Create or move the alias (its revision from the plan or the record; read again when
# Lambda refuses a stale one); undoing a move that created it (a function had none)
# removes it.
_ALIAS_MOVE = StepCalls(
    read=(_GET_ALIAS,),
    write=(_GET_ALIAS, *_ALIAS_WRITES, _SERVED),
    undo=(_GET_ALIAS, *_ALIAS_WRITES, _DELETE_ALIAS, _SERVED),
)

STEPS: Mapping[str, StepCalls] = {
    "baseline version": _VERSION,
    "publish": _VERSION,
    "code": StepCalls(
        read=_LATEST,
        write=(Call("UpdateFunctionCode", FUNCTION), *_LATEST),
        undo=(Call("UpdateFunctionCode", FUNCTION), *_LATEST),
    ),
    "layers": StepCalls(
        read=_LATEST,
        write=(Call("UpdateFunctionConfiguration", FUNCTION), *_LATEST),
        undo=(Call("UpdateFunctionConfiguration", FUNCTION), *_LATEST),
    ),
    "pin alias": _ALIAS_MOVE,
    "switch": _ALIAS_MOVE,
    # Crash recovery: the alias back to what callers were served (none: removed).
    "alias back": StepCalls(
        read=(_GET_ALIAS,), write=(_GET_ALIAS, *_ALIAS_WRITES, _DELETE_ALIAS, _SERVED)
    ),
}

# The calls made outside the steps.
OTHER: Mapping[str, tuple[Call, ...]] = {
    # Reading every function before a release (and `status`): `$LATEST`, the alias, the
    # version it serves (by qualifier; GetFunction too: it carries the configuration),
    # and the code's download URL when a snapshot must be taken.
    "plan": (
        *_LATEST,
        _GET_ALIAS,
        Call("GetFunctionConfiguration", QUALIFIED),
        Call("GetFunction", QUALIFIED),
        Call("GetFunction", FUNCTION),
    ),
    "deps layer": (
        Call("PublishLayerVersion", LAYER),
        Call("ListLayerVersions", LAYER),
        Call("GetLayerVersion", LAYER),
        Call("DeleteLayerVersion", LAYER),
    ),
    # Hooks invoke each new version before the switch; smoke checks invoke the alias after.
    "hooks and smoke checks": (Call("InvokeFunction", QUALIFIED),),
    "prune-versions": (
        Call("ListVersionsByFunction", ALIAS),
        Call("ListAliases", ALIAS),
        Call("DeleteFunction", QUALIFIED),  # a version: never the function itself
    ),
}


def every_call() -> frozenset[Call]:
    found: set[Call] = set()
    for step in STEPS.values():
        found |= step.calls
    for calls in OTHER.values():
        found.update(calls)
    return frozenset(found)


def actions(scope: str, calls: Iterable[Call] | None = None) -> tuple[str, ...]:
    """The IAM actions `calls` (default: every declared call) need on `scope`, in ORDER."""
    chosen = every_call() if calls is None else frozenset(calls)
    wanted = {c.operation for c in chosen if c.scope == scope}
    return tuple(f"lambda:{op}" for op in ORDER if op in wanted)
