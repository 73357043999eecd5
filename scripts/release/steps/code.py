"""`code`: `$LATEST` code from the content-addressed package (undo: the code before, from
the package or snapshot in the store that holds it)."""

from __future__ import annotations

from typing import Any

from environments.release_calls import FUNCTION, Call
from scripts.release.engine import FunctionRun, Resource
from scripts.release.facts import CodeSource, Facts, facts
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

_UPDATE_CODE = Call("UpdateFunctionCode", FUNCTION)


class Code(_LatestStep):
    name = "code"
    needs = ("target_code",)
    calls = latest_write_calls(_UPDATE_CODE)
    order = 30  # after the baseline holds the state before (and the alias is pinned)
    latest_restore = True
    dry_run_calls = ("UpdateFunctionCode",)

    @staticmethod
    def targeted(f: Facts) -> bool:
        return f.target_code is not None

    def read(self, run: FunctionRun) -> Any:
        latest = _latest(run)
        return (latest.code_sha256, _healthy(latest))

    def wanted(self, run: FunctionRun) -> Any:
        code = facts(run).target_code
        return (code.code_sha256 if code else _before(facts(run)).code_sha256, True)

    def show(self, value: Any) -> str:
        code, healthy = value
        return f"code {code}" + ("" if healthy else " (LastUpdateStatus Failed)")

    def apply(self, run: FunctionRun) -> None:
        f = _needed(self, run)
        code = _planned(f.target_code, "target code")
        self._write(run, code, _guard(run, Resource.LATEST, _before(f).revision_id))

    def revert(self, run: FunctionRun, value: Any) -> None:
        source = facts(run).restore_code
        if source is None or source.code_sha256 != value[0]:
            raise ValueError(f"no package or snapshot in the store holds code {value[0]}")
        self._write(run, source, run.ours.get(Resource.LATEST))

    def _write(self, run: FunctionRun, code: CodeSource, revision: str | None) -> None:
        run.api.update_code(run.name, bucket=code.bucket, key=code.key, revision_id=revision)
        self._written(run)
