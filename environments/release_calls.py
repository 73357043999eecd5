"""Every Lambda call the release tooling makes, by the part that makes it, with the IAM
grant each needs: the one list both sides read (issue 16, part 2).

A release step declares its own calls (read, write, undo) in its module under
`scripts/release/steps/`; `python -m scripts.release.steps` writes them, by step name,
to `release_steps.json` beside this file, read here by `declared_steps()`. Declared here: the
vocabulary (`Call`, the scopes, `ORDER`) and the calls made outside the steps (`OTHER`:
planning reads, the deps layer, hooks, pruning). The deployer policy
(`infra_constructs/deployer_policy.py`) grants exactly the actions of both, per scope;
`tests/scripts/test_step_calls.py` runs every step through the Lambda double and fails on
any call a step makes that it does not declare, and while the JSON file differs from the
steps. A Lambda operation nothing called before also goes into `ORDER`.

Plain data in `environments/` (which imports nothing of ours and no AWS SDK), because the
CDKTF app imports it and the infrastructure side never imports `scripts/`.

A call's scope is the resource IAM authorises it against:
- FUNCTION: the function's unqualified ARN (its code and configuration);
- ALIAS: versions and the environment's alias (granted on the function and FUNCTION:ALIAS);
- QUALIFIED: a published version or the alias passed as a qualifier (FUNCTION:*);
- LAYER: the deps layer (publish, list) and its versions (get, delete).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

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


# `$LATEST` and the alias, as the planning reads them (the steps declare their own).
_LATEST = (Call("GetFunction", FUNCTION), Call("GetFunctionConfiguration", FUNCTION))
_GET_ALIAS = Call("GetAlias", ALIAS)

# What each release step calls, by step name: written from the step modules by
# `python -m scripts.release.steps` (never edited by hand).
STEPS_FILE = Path(__file__).with_name("release_steps.json")
_PARTS = ("read", "write", "undo")


def parse_steps(text: str) -> dict[str, StepCalls]:
    """The steps' calls from the generated file's text (a call: "Operation/scope")."""
    steps = json.loads(text)["steps"]
    return {
        name: StepCalls(
            **{part: tuple(Call(*call.split("/")) for call in entry[part]) for part in _PARTS}
        )
        for name, entry in steps.items()
    }


@cache
def declared_steps() -> Mapping[str, StepCalls]:
    """The steps' calls, read from the generated file on first use (so the command that
    writes the file runs whatever the file holds)."""
    try:
        return parse_steps(STEPS_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(
            f"{STEPS_FILE.name}: {e}; regenerate it with `python -m scripts.release.steps`"
        ) from e


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


def every_call(declared: Mapping[str, StepCalls] | None = None) -> frozenset[Call]:
    """Every call declared: by the steps (default: the generated file's), and outside them."""
    found: set[Call] = set()
    for step in (declared_steps() if declared is None else declared).values():
        found |= step.calls
    for calls in OTHER.values():
        found.update(calls)
    return frozenset(found)


def actions(scope: str, calls: Iterable[Call] | None = None) -> tuple[str, ...]:
    """The IAM actions `calls` (default: every declared call) need on `scope`, in ORDER."""
    chosen = every_call() if calls is None else frozenset(calls)
    wanted = {c.operation for c in chosen if c.scope == scope}
    return tuple(f"lambda:{op}" for op in ORDER if op in wanted)
