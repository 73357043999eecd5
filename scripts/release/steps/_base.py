"""What every release step shares: the registry, the reads a run keeps, the guards.

A step class registers itself when its module is imported (`ReleaseStep.__init_subclass__`:
every class that sets its own `name`); the package imports every module in its folder, so
a new module is a new step with no list to edit. A registered step must declare its Lambda
calls (`calls`: read, write, undo, each `Call(operation, scope)` from
environments/release_calls.py): a step without them fails at import.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, ClassVar, TypeVar

from environments.release_calls import FUNCTION, Call, StepCalls
from scripts.release.engine import FunctionRun, Resource, Step
from scripts.release.facts import Facts, facts
from scripts.release.lambda_api import LATEST, Alias, Latest

T = TypeVar("T")


class Phase(Enum):
    """Where a step runs: the planners pick steps by phase (and `order`, `targeted`)."""

    PREPARE = "prepare"  # per function before any alias moves; callers see nothing
    SWITCH = "switch"  # callers move
    RECOVERY = "recovery"  # put back what a dead run left (built by crash recovery)


class ReleaseStep(Step):
    """A release step: what the engine runs, plus what the planners and the deployer
    policy read from it. Concrete steps set `name` and are registered by it."""

    calls: ClassVar[StepCalls]
    phase: ClassVar[Phase] = Phase.PREPARE
    # The order steps of a phase run in (lower first), a release's and recovery's alike.
    order: ClassVar[int] = 0
    # A `$LATEST` value crash recovery puts back towards the record's `latest`.
    latest_restore: ClassVar[bool] = False
    # What `--dry-run` lists for its write (its reads and waits besides); none: its name.
    dry_run_calls: ClassVar[tuple[str, ...]] = ()

    @staticmethod
    def targeted(f: Facts) -> bool:
        """Whether the plan's facts call for this step for one function."""
        return True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:
            register(cls)


_REGISTRY: dict[str, type[ReleaseStep]] = {}


def register(cls: type[ReleaseStep]) -> None:
    # Its own declaration, not one inherited: what a step calls is said where it is.
    if not isinstance(cls.__dict__.get("calls"), StepCalls):
        raise TypeError(f"release step {cls.name!r} ({cls.__module__}): declare its `calls`")
    known = _REGISTRY.get(cls.name)
    if known is not None and _where(known) != _where(cls):
        raise TypeError(f"release step {cls.name!r}: named by {_where(known)} already")
    _REGISTRY[cls.name] = cls


def _where(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def registered(phase: Phase | None = None) -> list[type[ReleaseStep]]:
    """The registered steps (of one phase), in their order, then by name."""
    found = [c for c in _REGISTRY.values() if phase is None or c.phase is phase]
    return sorted(found, key=lambda c: (c.order, c.name))


def unregister(name: str) -> None:
    """Forget a step (tests that add one take it out again)."""
    _REGISTRY.pop(name, None)


def needs_pin(alias: Alias | None) -> bool:
    """A missing alias, or one on `$LATEST`, must first hold the state before the release."""
    return alias is None or alias.version == LATEST


# Reading `$LATEST`, and waiting for an update: GetFunction (its own, larger quota) by the
# paced client, GetFunctionConfiguration where a read needs no more than the configuration.
LATEST_CALLS = (Call("GetFunction", FUNCTION), Call("GetFunctionConfiguration", FUNCTION))


def latest_write_calls(write: Call) -> StepCalls:
    """A `$LATEST` step's calls: it reads `$LATEST`; its write and its undo are `write`,
    then the reads that wait until the update settles."""
    return StepCalls(read=LATEST_CALLS, write=(write, *LATEST_CALLS), undo=(write, *LATEST_CALLS))


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


class _LatestStep(ReleaseStep):
    """A `$LATEST` write: its value plus whether the update left the function healthy."""

    resource = Resource.LATEST

    def landed(self, now: Any, wanted: Any) -> bool:
        return bool(now[0] == wanted[0])

    def revision(self, run: FunctionRun) -> str | None:
        return _latest(run).revision_id

    def settle(self, run: FunctionRun) -> None:
        _settle(run)

    def _written(self, run: FunctionRun) -> None:
        """Our update was answered: wait until it settles (its read is the verification)."""
        _settle(run)
        run.seen[_UPDATED] = True


def _healthy(latest: Latest) -> bool:
    """An update that settled as Failed leaves the value in place but the function broken."""
    return latest.status != "Failed"
