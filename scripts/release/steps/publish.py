"""`publish`: a version holding exactly the target (found, or published with the expected
CodeSha256 and the RevisionId our writes left). Always planned: the switch needs it."""

from __future__ import annotations

from scripts.release.facts import Facts
from scripts.release.steps._base import _before
from scripts.release.steps._version import FIND_OR_PUBLISH, _VersionStep


class Publish(_VersionStep):
    name = "publish"
    calls = FIND_OR_PUBLISH
    order = 90  # last of the prepare phase: after every `$LATEST` write
    dry_run_calls = ("PublishVersion (unless a version holds the target)",)

    def _expected_code(self, f: Facts) -> str:
        return f.target_code.code_sha256 if f.target_code else _before(f).code_sha256

    def _set(self, f: Facts, version: str) -> None:
        f.target_version = version

    def _found(self, f: Facts) -> str | None:
        return f.target_version
