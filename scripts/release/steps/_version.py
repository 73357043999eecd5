"""The shared shape of the baseline and publish steps: find a version equal to `$LATEST`,
else publish one (versions are never undone)."""

from __future__ import annotations

from typing import Any

from environments.release_calls import ALIAS, Call, StepCalls
from scripts.release.engine import FunctionRun, Resource
from scripts.release.facts import Facts, facts
from scripts.release.steps._base import (
    _UPDATED,
    _VERSIONS,
    LATEST_CALLS,
    ReleaseStep,
    _before,
    _guard,
    _latest,
    _settle,
)

# Reads `$LATEST` and, unless this run just updated it, lists the versions; publishes one.
FIND_OR_PUBLISH = StepCalls(
    read=(*LATEST_CALLS, Call("ListVersionsByFunction", ALIAS)),
    write=(*LATEST_CALLS, Call("PublishVersion", ALIAS)),
)


class _VersionStep(ReleaseStep):
    """Ensure a published version equals `$LATEST` as it is now (find one, else publish)."""

    resource = Resource.LATEST
    reversible = False

    def _expected_code(self, f: Facts) -> str:
        raise NotImplementedError

    def _set(self, f: Facts, version: str) -> None:
        raise NotImplementedError

    def _found(self, f: Facts) -> str | None:
        raise NotImplementedError

    def read(self, run: FunctionRun) -> Any:
        f = facts(run)
        latest = _latest(run)
        found = self._found(f)
        if found in f.versions and f.versions[found].fingerprint == latest.fingerprint:
            return True  # this run found or published it (its answer said what it holds)
        if run.seen.get(_UPDATED):
            # Our update just went through: Lambda publishes a new version after an update,
            # so there is nothing to look for (and no ListVersionsByFunction to pay).
            return False
        if _VERSIONS not in run.seen:
            run.seen[_VERSIONS] = run.api.versions(run.name)
        for version in reversed(run.seen[_VERSIONS]):
            if version.fingerprint == latest.fingerprint:
                self._set(f, version.version)
                f.versions[version.version] = version
                return True
        return False

    def wanted(self, run: FunctionRun) -> Any:
        return True

    def apply(self, run: FunctionRun) -> None:
        f = facts(run)
        if _latest(run).status == "InProgress":
            _settle(run)
        published = run.api.publish(
            run.name,
            code_sha256=self._expected_code(f),
            revision_id=_guard(run, Resource.LATEST, _before(f).revision_id),
            description=f.description,
        )
        self._set(f, published.version)
        f.versions[published.version] = published
        run.seen.pop(_UPDATED, None)
        if _VERSIONS in run.seen:  # the listing this run read stays whole
            run.seen[_VERSIONS] = [*run.seen[_VERSIONS], published]

    def revision(self, run: FunctionRun) -> str | None:
        return _latest(run).revision_id

    def settle(self, run: FunctionRun) -> None:
        _settle(run)

    def show(self, value: Any) -> str:
        return "a matching version exists" if value else "no matching version"
