"""Every release step calls only what its own module declares (`calls`), the generated
environments/release_steps.json is those declarations, and the deployer policy grants
exactly what is declared (issue 16, part 2).

The steps run through the Lambda double: a first release onto functions without an alias
(baseline, pin, code, layers, publish, switch), a release whose switch fails (every undo),
and crash recovery of a `started` record (alias back, then `$LATEST` back). Each Lambda
call is attributed to the step whose method made it; what no step made (planning reads,
the deps layer) must be declared outside the steps.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest
from lambda_double import LambdaDouble
from lambda_world import World
from test_policy_coverage import deployer_statements

import artifacts
from environments import release_calls
from environments.release_calls import ALIAS, FUNCTION, LAYER, QUALIFIED, Call
from scripts.release import history, plan, steps
from scripts.release.deploy import deploy
from scripts.release.engine import Step, StepError, run_step
from scripts.release.facts import Facts
from scripts.release.release import ReleaseFailedError
from scripts.release.steps import ReleaseStep
from scripts.release.steps._declared import COMMAND, declarations_json

OUTSIDE = "(no step)"
# Authorised against the function ARN, granted with the alias (the VersionsAndAlias statement).
_ALIAS_SCOPED = {"GetAlias", "CreateAlias", "UpdateAlias", "DeleteAlias", "PublishVersion"}
_ALIAS_SCOPED |= {"ListVersionsByFunction", "ListAliases"}
# Which declared part a method's calls belong to.
_METHODS = {
    "read": "read",
    "wanted": "read",
    "revision": "read",
    "apply": "write",
    "settle": "write",
    "revert": "undo",
}


def step_classes() -> list[type[ReleaseStep]]:
    return steps.registered()


def scope(operation: str, params: dict[str, Any]) -> str:
    if "LayerName" in params:
        return LAYER
    if operation in _ALIAS_SCOPED:
        return ALIAS
    return QUALIFIED if params.get("Qualifier") else FUNCTION


@pytest.fixture
def seen(
    dworld: World, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[tuple[str, str], set[Call]]]:
    """(step name, read/write/undo) -> the calls made while such a method of that step ran
    ((OUTSIDE, ""): while none did). Wrapping only observes: each method still runs."""
    current = threading.local()
    found: dict[tuple[str, str], set[Call]] = defaultdict(set)

    def attributed(method: Any, part: str) -> Any:
        def inner(self: Step, *args: Any, **kwargs: Any) -> Any:
            outer = getattr(current, "at", None)
            current.at = (self.name, part)
            try:
                return method(self, *args, **kwargs)
            finally:
                current.at = outer

        return inner

    for cls in step_classes():
        for name, part in _METHODS.items():
            monkeypatch.setattr(cls, name, attributed(getattr(cls, name), part))

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        at = getattr(current, "at", None) or (OUTSIDE, "")
        found[at].add(Call(model.name, scope(model.name, params)))

    dworld.lam.meta.events.register("provide-client-params.lambda", record)
    yield found


def _started_copy(world: World, record: history.ReleaseRecord) -> None:
    """R2's record again as the newest, `started`, with targets nobody serves: what a run
    killed mid-switch leaves. The next release puts every function back to its before."""
    data = json.loads(world.store.read_bytes(artifacts.release_record(world.env.name, record.id)))
    data.update(id=history.new_release_id(), state="started")
    for entry in data["functions"].values():
        entry["target"]["version"] = "9999"
    name = artifacts.release_record(world.env.name, data["id"])
    world.store.put_bytes(name, json.dumps(data).encode(), overwrite=False)


def test_every_step_calls_only_what_it_declares(
    dworld: World, lambda_double: LambdaDouble, seen: dict[tuple[str, str], set[Call]]
) -> None:
    deploy(dworld.context(), dworld.target("v1", "v1"))
    lambda_double.fail(
        "UpdateAlias", status=500, code="ServiceException", message="injected", times=1
    )
    with pytest.raises(ReleaseFailedError):
        deploy(dworld.context(), dworld.target("v2", "v2"))
    deploy(dworld.context(), dworld.target("v3", "v3"))
    _started_copy(dworld, history.load_releases(dworld.store, dworld.env.name)[0])
    deploy(dworld.context(), dworld.target("v4", "v4"))  # resolves it first
    assert "restore" in " ".join(dworld.said) or "put back" in " ".join(dworld.said)

    declared = {cls.name: cls.calls for cls in step_classes()}
    undeclared = {
        f"{step} ({part})": sorted(f"{c.operation}/{c.scope}" for c in extra)
        for (step, part), calls in seen.items()
        if step != OUTSIDE and (extra := calls - set(getattr(declared[step], part)))
    }
    assert undeclared == {}, "steps make calls their modules do not declare"
    outside = {c for calls in release_calls.OTHER.values() for c in calls}
    assert seen[(OUTSIDE, "")] - outside == set()
    # Every step ran, and the writes and undo were exercised.
    assert {step for step, _ in seen} - {OUTSIDE} == set(declared)
    assert {("code", "undo"), ("layers", "undo"), ("switch", "undo")} <= set(seen)
    written = {c.operation for calls in seen.values() for c in calls}
    assert {"UpdateFunctionCode", "UpdateFunctionConfiguration", "PublishVersion"} <= written
    assert {"CreateAlias", "UpdateAlias"} <= written


def test_the_generated_declarations_are_the_steps_own() -> None:
    """environments/release_steps.json (what the deployer policy reads) is written from the
    step modules; a step added or changed without regenerating it fails here."""
    written = release_calls.STEPS_FILE.read_text(encoding="utf-8")
    assert written == declarations_json(), f"regenerate it with `{COMMAND}`"
    parsed = release_calls.parse_steps(written)
    assert {name: calls for name, calls in parsed.items()} == {
        cls.name: cls.calls for cls in step_classes()
    }
    assert set(release_calls.declared_steps()) == {cls.name for cls in step_classes()}


def test_the_reviewed_deployer_policy_grants_exactly_the_declared_actions() -> None:
    """The staging snapshot (what Terraform applies) against the declarations, per scope."""
    statements = {s["sid"]: s["actions"] for s in deployer_statements()}
    sids = {
        LAYER: "LayerVersions",
        FUNCTION: "FunctionCodeAndConfiguration",
        ALIAS: "VersionsAndAlias",
        QUALIFIED: "PublishedVersions",
    }
    for where, sid in sids.items():
        assert statements[sid] == list(release_calls.actions(where)), sid
    assert "lambda:DeleteFunction" not in statements["FunctionCodeAndConfiguration"]


def test_a_call_must_name_a_known_operation_and_scope() -> None:
    with pytest.raises(ValueError, match="add the operation to ORDER"):
        Call("DeleteFunctionUrlConfig", FUNCTION)
    with pytest.raises(ValueError, match="scope one of"):
        Call("GetAlias", "account")


def test_every_step_needs_only_facts_that_exist() -> None:
    fields = {f.name for f in dataclasses.fields(Facts)}
    for cls in step_classes():
        assert set(cls.needs) <= fields, cls.name
    assert steps.Switch.needs == ("target_version",)


def test_a_step_whose_fact_the_plan_left_unset_fails_before_its_write_naming_it(
    dworld: World, lambda_double: LambdaDouble
) -> None:
    dworld.add_aliases()
    name = dworld.env.function_names[0]
    before = plan.read_before(dworld.context().api, dworld.env, [name])[name]
    run = plan.new_run(
        dworld.context().api,
        name,
        plan.facts_for(dworld.env, before, description="test", restore=None),
    )
    lambda_double.clear_calls()

    with pytest.raises(StepError, match="release plan error: switch needs target_version"):
        run_step(run, steps.Switch(), threading.Event())

    assert not [c for c in lambda_double.calls if c.operation == "UpdateAlias"]
    assert dworld.served()[name][0] == before.alias_version
