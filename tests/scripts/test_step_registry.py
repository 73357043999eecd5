"""A release step is one module: dropping one into scripts/release/steps/ puts it in the
registry, the plan, the generated declarations and the deployer policy's actions, with no
other file edited (issue 16, part 2). The planners' lists come from the registry.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from environments import release_calls
from environments.release_calls import FUNCTION, QUALIFIED
from scripts.release import steps
from scripts.release.facts import CodeSource, Facts
from scripts.release.lambda_api import LATEST, Alias, Latest
from scripts.release.steps import _base
from scripts.release.steps._declared import declarations, declarations_json, write

# A whole new step, as its author writes it: warm `$LATEST` by invoking it after the
# layers changed (InvokeFunction on the bare function: granted nowhere today).
WARM = """
from typing import Any

from environments.release_calls import FUNCTION, Call, StepCalls
from scripts.release.engine import FunctionRun
from scripts.release.steps._base import ReleaseStep


class Warm(ReleaseStep):
    name = "warm $LATEST"
    calls = StepCalls(read=(), write=(Call("InvokeFunction", FUNCTION),))
    order = 45  # after the layers, before publish
    reversible = False

    def read(self, run: FunctionRun) -> Any:
        return False

    def wanted(self, run: FunctionRun) -> Any:
        return True

    def apply(self, run: FunctionRun) -> None:
        return None
"""
NEW_MODULE = f"{steps.__name__}.warm"


@pytest.fixture
def new_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[type[steps.ReleaseStep]]:
    """The module above dropped into the package's folder (a second folder on its
    `__path__`, so the checkout stays as it is), found by the package's own discovery."""
    (tmp_path / "warm.py").write_text(WARM, encoding="utf-8")
    monkeypatch.setattr(steps, "__path__", [*steps.__path__, str(tmp_path)])
    steps.discover()
    try:
        yield _base._REGISTRY["warm $LATEST"]
    finally:
        _base.unregister("warm $LATEST")
        sys.modules.pop(NEW_MODULE, None)
        vars(steps).pop("warm", None)  # the import set it on the package


def _facts(*, alias: Alias | None, code: bool = True, layers: bool = True) -> Facts:
    before = Latest(
        name="f",
        arn="arn:aws:lambda:eu-west-1:1:function:f",
        code_sha256="a",
        layers=(),
        revision_id="r1",
    )
    return Facts(
        alias_name="live",
        before=before,
        before_alias=alias,
        description="test",
        target_code=CodeSource(bucket="b", key="k", code_sha256="c") if code else None,
        target_layers=("arn:layer:1",) if layers else None,
    )


def _names(found: Sequence[object]) -> list[str]:
    return [type(s).__name__ for s in found]


def test_the_plans_come_from_the_registry_in_the_order_a_release_applies() -> None:
    first = _facts(alias=None)
    assert _names(steps.prepare_steps(first)) == ["Baseline", "Pin", "Code", "Layers", "Publish"]
    on_latest = _facts(alias=Alias(name="live", version=LATEST), layers=False)
    assert _names(steps.prepare_steps(on_latest)) == ["Baseline", "Pin", "Code", "Publish"]
    pinned = _facts(alias=Alias(name="live", version="3"), code=False)
    assert _names(steps.prepare_steps(pinned)) == ["Layers", "Publish"]
    assert _names(steps.latest_steps(first)) == ["Code", "Layers"]
    assert _names(steps.latest_steps(pinned)) == ["Layers"]
    assert [c.name for c in steps.registered(steps.Phase.SWITCH)] == ["switch"]


def test_a_new_step_module_lands_everywhere_without_editing_another_file(
    new_step: type[steps.ReleaseStep], tmp_path: Path
) -> None:
    # The plan runs it at its order, for every function.
    assert _names(steps.prepare_steps(_facts(alias=None))) == [
        "Baseline",
        "Pin",
        "Code",
        "Layers",
        "Warm",
        "Publish",
    ]
    # Its calls are in the declarations the command writes ...
    assert declarations()["steps"]["warm $LATEST"] == {
        "module": NEW_MODULE,
        "read": [],
        "write": ["InvokeFunction/function"],
        "undo": [],
    }
    generated = tmp_path / "release_steps.json"
    assert write(generated)
    # ... so the policy built from that file grants its action, on its scope only.
    declared = release_calls.parse_steps(generated.read_text(encoding="utf-8"))
    granted = release_calls.actions(FUNCTION, release_calls.every_call(declared))
    assert "lambda:InvokeFunction" in granted
    assert "lambda:InvokeFunction" not in release_calls.actions(FUNCTION)
    assert release_calls.actions(QUALIFIED, release_calls.every_call(declared)) == (
        release_calls.actions(QUALIFIED)
    )
    # The checked-in file is now stale: the freshness test names the command to run.
    assert release_calls.STEPS_FILE.read_text(encoding="utf-8") != declarations_json()


def test_a_step_that_does_not_declare_its_calls_is_refused_when_its_module_loads() -> None:
    with pytest.raises(TypeError, match=r"'nameless' \(test_step_registry\): declare its `calls`"):

        class Nameless(steps.ReleaseStep):
            name = "nameless"

    assert "nameless" not in {c.name for c in steps.registered()}


def test_two_steps_cannot_share_a_name() -> None:
    with pytest.raises(
        TypeError, match=r"'switch': named by scripts\.release\.steps\.switch\.Switch"
    ):

        class Other(steps.ReleaseStep):
            name = "switch"
            calls = steps.Switch.calls

    assert _base._REGISTRY["switch"] is steps.Switch
