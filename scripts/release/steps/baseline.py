"""`baseline version`: a published version holding the function's state before the
release (found, or published first) -- only when the alias is missing or on `$LATEST`,
so the pin step has a version to hold callers on."""

from __future__ import annotations

from scripts.release.facts import Facts
from scripts.release.steps._base import _before, needs_pin
from scripts.release.steps._version import FIND_OR_PUBLISH, _VersionStep


class Baseline(_VersionStep):
    name = "baseline version"
    calls = FIND_OR_PUBLISH
    order = 10  # first: before anything of `$LATEST` changes
    dry_run_calls = ("PublishVersion",)

    @staticmethod
    def targeted(f: Facts) -> bool:
        return needs_pin(f.before_alias)

    def _expected_code(self, f: Facts) -> str:
        return _before(f).code_sha256

    def _set(self, f: Facts, version: str) -> None:
        f.baseline_version = version

    def _found(self, f: Facts) -> str | None:
        return f.baseline_version
