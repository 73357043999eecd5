"""The steps a release is made of, and the plan that picks them per function.

Prepare (callers see nothing change):
  baseline  a published version holding the function's state before the release
            (found, or published first) -- only when the alias is missing or on $LATEST;
  pin       the alias created on (or moved from $LATEST to) that baseline version;
  code      `$LATEST` code from the content-addressed package;
  layers    `$LATEST` layers, this environment's deps layer swapped;
  publish   a version holding exactly the target (found, or published with the
            expected CodeSha256 and the RevisionId our writes left).
Switch (callers move):
  switch    the alias to the target version (or weighted to it, for a canary).
Crash recovery: `alias back`, then the `$LATEST` steps towards the recorded `latest`.

Each step says in one place what it needs and does: `needs` (the facts its write needs
set), `read`/`wanted`/`landed` (how it is verified), `apply` and `revert` (its write and
its undo).
The Lambda calls each step makes (read, write, undo) and the IAM scope of each are
declared under the step's name in environments/release_calls.py, which the deployer
policy is built from; tests/scripts/test_step_calls.py holds every step to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from botocore.exceptions import ClientError

from scripts.release.engine import FunctionRun, Resource, Step
from scripts.release.facts import CodeSource, Facts, facts
from scripts.release.lambda_api import LATEST, Alias, LambdaOpError, Latest, error_code

T = TypeVar("T")


# What a run's steps saw last (FunctionRun.seen): read once, then each write's answer.
_UPDATED = "updated"  # our update of $LATEST in this run was answered and has settled
_VERSIONS = "versions"


def _latest(run: FunctionRun) -> Latest:
    if Resource.LATEST not in run.seen:
        run.seen[Resource.LATEST] = run.api.latest(run.name)
    latest: Latest = run.seen[Resource.LATEST]
    return latest


def _alias(run: FunctionRun) -> Alias | None:
    if Resource.ALIAS not in run.seen:
        run.seen[Resource.ALIAS] = run.api.alias(run.name, facts(run).alias_name)
    alias: Alias | None = run.seen[Resource.ALIAS]
    return alias


def _settle(run: FunctionRun) -> Latest:
    run.seen[Resource.LATEST] = latest = run.api.settled(run.name)
    return latest


def _guard(run: FunctionRun, resource: Resource, initial: str | None) -> str | None:
    if resource in run.renewed:
        # Our publish renewed it: the revision Lambda reports now is the one it left.
        run.seen.pop(resource, None)
        run.ours[resource] = (
            _latest(run).revision_id if resource is Resource.LATEST else _revision(_alias(run))
        )
        run.renewed.discard(resource)
    return run.ours.get(resource, initial)


def _revision(alias: Alias | None) -> str | None:
    return alias.revision_id if alias else None


def _needed(step: Step, run: FunctionRun) -> Facts:
    """The run's facts with every one the step `needs` set: a plan that left one unset is
    a bug, said before the step's write, naming the step and the fact."""
    f = facts(run)
    missing = [name for name in step.needs if getattr(f, name) is None]
    if missing:
        raise RuntimeError(f"release plan error: {step.name} needs {', '.join(missing)}")
    return f


def _planned(value: T | None, what: str) -> T:
    """A fact the plan must have set before this step runs (a bug otherwise)."""
    if value is None:
        raise RuntimeError(f"release plan error: {what} is not set")
    return value


def _before(f: Facts) -> Latest:
    """`$LATEST` as the plan read it: a step that writes it (or publishes from it) needs it."""
    return _planned(f.before, "$LATEST before the release")


class _LatestStep(Step):
    """A `$LATEST` write: its value plus whether the update left the function healthy."""

    resource = Resource.LATEST

    def landed(self, now: Any, wanted: Any) -> bool:
        return bool(now[0] == wanted[0])

    def revision(self, run: FunctionRun) -> str | None:
        return _latest(run).revision_id

    def settle(self, run: FunctionRun) -> None:
        _settle(run)


def _healthy(latest: Latest) -> bool:
    """An update that settled as Failed leaves the value in place but the function broken."""
    return latest.status != "Failed"


class Code(_LatestStep):
    name = "code"
    needs = ("target_code",)

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
        _settle(run)
        run.seen[_UPDATED] = True


class Layers(_LatestStep):
    name = "layers"
    needs = ("target_layers",)

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
        _settle(run)
        run.seen[_UPDATED] = True

    def show(self, value: Any) -> str:
        layers, healthy = value
        return f"layers {list(layers)}" + ("" if healthy else " (LastUpdateStatus Failed)")


class _VersionStep(Step):
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


class Baseline(_VersionStep):
    name = "baseline version"

    def _expected_code(self, f: Facts) -> str:
        return _before(f).code_sha256

    def _set(self, f: Facts, version: str) -> None:
        f.baseline_version = version

    def _found(self, f: Facts) -> str | None:
        return f.baseline_version


class Publish(_VersionStep):
    name = "publish"

    def _expected_code(self, f: Facts) -> str:
        return f.target_code.code_sha256 if f.target_code else _before(f).code_sha256

    def _set(self, f: Facts, version: str) -> None:
        f.target_version = version

    def _found(self, f: Facts) -> str | None:
        return f.target_version


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


class _AliasStep(Step):
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


class Pin(_AliasStep):
    name = "pin alias"
    needs = ("baseline_version",)  # set by the baseline step before it

    def wanted(self, run: FunctionRun) -> Any:
        return (facts(run).baseline_version, ())

    def apply(self, run: FunctionRun) -> str | None:
        version = _needed(self, run).baseline_version
        return self._move(run, _planned(version, "baseline version"), {})


class Switch(_AliasStep):
    name = "switch"
    needs = ("target_version",)  # set by publish (or the plan, for a rollback)

    def wanted(self, run: FunctionRun) -> Any:
        f = facts(run)
        serving = f.serving or f.baseline_version
        if f.canary_weight is not None and serving is not None and serving != f.target_version:
            return (serving, ((f.target_version, f.canary_weight),))
        return (f.target_version, ())

    def apply(self, run: FunctionRun) -> str | None:
        _needed(self, run)
        version, weights = self.wanted(run)
        return self._move(run, version, dict(weights))


# The `$LATEST` steps in the order a release applies them; crash recovery runs the same
# list towards the record's `latest`. Each runs only when its target is set.
LATEST_STEPS: tuple[type[Code] | type[Layers], ...] = (Code, Layers)


def latest_steps(f: Facts) -> list[Step]:
    return [cls() for cls in LATEST_STEPS if cls.targeted(f)]


def needs_pin(alias: Alias | None) -> bool:
    """A missing alias, or one on `$LATEST`, must first hold the state before the release."""
    return alias is None or alias.version == LATEST


def prepare_steps(f: Facts) -> list[Step]:
    steps: list[Step] = []
    if needs_pin(f.before_alias):
        steps += [Baseline(), Pin()]
    steps += latest_steps(f)
    # Always: the switch needs the version holding the target (found, else published).
    steps.append(Publish())
    return steps


class RestoreAlias(_AliasStep):
    """Crash recovery: the alias back to what it served before (no alias: removed)."""

    name = "alias back"

    def __init__(self, serves: Any) -> None:
        self.serves = serves

    def wanted(self, run: FunctionRun) -> Any:
        return self.serves

    def apply(self, run: FunctionRun) -> str | None:
        if self.serves is None:
            run.api.delete_alias(run.name, alias=facts(run).alias_name)
            run.seen[Resource.ALIAS] = None
            return None
        version, weights = self.serves
        return self._move(run, version, dict(weights))
