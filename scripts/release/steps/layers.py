"""`layers`: `$LATEST` layers, this environment's deps layer swapped (undo: the layers
before)."""

from __future__ import annotations

from typing import Any

from environments.release_calls import FUNCTION, Call
from scripts.release.engine import FunctionRun, Resource
from scripts.release.facts import Facts, facts
from scripts.release.steps._base import (
    _before,
    _guard,
    _healthy,
    _latest,
    _LatestStep,
    _needed,
    _planned,
    latest_write_calls,
)

_UPDATE_CONFIGURATION = Call("UpdateFunctionConfiguration", FUNCTION)


class Layers(_LatestStep):
    name = "layers"
    needs = ("target_layers",)
    calls = latest_write_calls(_UPDATE_CONFIGURATION)
    order = 40  # after the code: the order a release (and recovery) writes `$LATEST` in
    latest_restore = True
    dry_run_calls = ("UpdateFunctionConfiguration (Layers)",)

    @staticmethod
    def targeted(f: Facts) -> bool:
        return f.target_layers is not None

    def read(self, run: FunctionRun) -> Any:
        latest = _latest(run)
        return (latest.layers, _healthy(latest))

    def wanted(self, run: FunctionRun) -> Any:
        f = facts(run)
        return (f.target_layers if f.target_layers is not None else _before(f).layers, True)

    def apply(self, run: FunctionRun) -> None:
        f = _needed(self, run)
        layers = _planned(f.target_layers, "target layers")
        self._write(run, layers, _guard(run, Resource.LATEST, _before(f).revision_id))

    def revert(self, run: FunctionRun, value: Any) -> None:
        self._write(run, tuple(value[0]), run.ours.get(Resource.LATEST))

    def _write(self, run: FunctionRun, layers: tuple[str, ...], revision: str | None) -> None:
        run.api.update_layers(run.name, layers=layers, revision_id=revision)
        self._written(run)

    def show(self, value: Any) -> str:
        layers, healthy = value
        return f"layers {list(layers)}" + ("" if healthy else " (LastUpdateStatus Failed)")
