"""The Lambda calls a release makes, typed, each with its guard passed once.

Every write here takes the `RevisionId` it expects and sends it only when there is one
(emulators omit it; real functions always carry one), backs off while Lambda says
"update in progress", and returns what Lambda reported. Reads return frozen states the
engine compares; nothing here decides what to do after an error: the engine re-reads
and decides from what is there.

Every call goes through the client's pacer (scripts.release.pacing: the quota, 429s).
Reads use GetFunction, which has a budget of its own (100/s against 15/s for the rest)
and returns the whole configuration. Waiting for an update polls first when the update
is likely done (near the longest window seen so far in this run), then less and less
often, instead of once a second: a 3 s window costs one read, not three.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import ClientError

from scripts.errors import BadInputError, ToolError
from scripts.release.pacing import Pacer, pacer_for
from scripts.release.timing import Timing

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

T = TypeVar("T")
_CONFLICT = "ResourceConflictException"
_NOT_FOUND = "ResourceNotFoundException"
LATEST = "$LATEST"


class LambdaOpError(ToolError):
    """A call or a wait did not bring the function where it was asked to go."""


class FunctionMissingError(BadInputError):
    """The function does not exist (yet): Terraform creates it, not the scripts."""

    def __init__(self, name: str) -> None:
        super().__init__(f"function {name} does not exist: run `cdktf deploy` first")
        self.name = name


def error_code(err: BaseException) -> str:
    if isinstance(err, ClientError):
        return str(err.response.get("Error", {}).get("Code", ""))
    return ""


def describe(err: BaseException) -> str:
    if isinstance(err, ClientError):
        message = err.response.get("Error", {}).get("Message", "")
        return f"{error_code(err)}: {message}".rstrip(": ")
    return str(err) or type(err).__name__


def guard(revision_id: str | None) -> dict[str, Any]:
    """`RevisionId=...` when there is one: the optional argument, written once."""
    return {"RevisionId": revision_id} if revision_id else {}


# What a published version freezes besides code and layers: a version is only "the same
# release" as `$LATEST` when all of it matches (Terraform may have changed memory since).
_FROZEN = ("Handler", "Runtime", "MemorySize", "Timeout", "Role")


def fingerprint(config: Mapping[str, Any]) -> tuple[object, ...]:
    variables = dict((config.get("Environment") or {}).get("Variables") or {})
    return (
        str(config.get("CodeSha256", "")),
        tuple(layer["Arn"] for layer in config.get("Layers", [])),
        *(config.get(key) for key in _FROZEN),
        tuple(sorted(variables.items())),
    )


@dataclass(frozen=True, kw_only=True)
class Latest:
    """`$LATEST`: what the next published version would hold."""

    name: str
    arn: str
    code_sha256: str
    layers: tuple[str, ...]
    revision_id: str | None
    status: str | None = None
    status_reason: str | None = None
    fingerprint: tuple[object, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Alias:
    name: str
    version: str
    weights: Mapping[str, float] = field(default_factory=dict)
    revision_id: str | None = None
    # False: taken from the record of our last write to it, not read from Lambda. The
    # write that relies on it is guarded by its RevisionId, so a stale one is refused (412)
    # and read again (scripts.release.steps); nothing else may rely on it.
    verified: bool = True

    @property
    def serves(self) -> tuple[str, tuple[tuple[str, float], ...]]:
        """What callers get: the version and any weighted extra version."""
        return self.version, tuple(sorted(self.weights.items()))


@dataclass(frozen=True, kw_only=True)
class Version:
    version: str
    code_sha256: str
    layers: tuple[str, ...]
    description: str = ""
    fingerprint: tuple[object, ...] = ()
    arn: str = ""  # qualified: it names the partition, region and account


@dataclass(frozen=True)
class Api:
    """One Lambda client with the timing every call and wait follows."""

    client: LambdaClient
    timing: Timing = field(default_factory=Timing)
    # The client's pacer (shared with every Api on the same client) and, per function,
    # when our last update was answered: its window is waited out from then.
    pacer: Pacer = field(init=False, compare=False, repr=False)
    _updated: dict[str, float] = field(init=False, compare=False, repr=False)
    _lock: threading.Lock = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pacer", pacer_for(self.client, self.timing))
        object.__setattr__(self, "_updated", {})
        object.__setattr__(self, "_lock", threading.Lock())

    # ---- reads ---------------------------------------------------------------------

    def latest(self, name: str) -> Latest:
        config = self._config(name, None)
        return Latest(
            name=name,
            arn=str(config["FunctionArn"]),
            code_sha256=str(config.get("CodeSha256", "")),
            layers=tuple(layer["Arn"] for layer in config.get("Layers", [])),
            revision_id=config.get("RevisionId"),
            status=config.get("LastUpdateStatus"),
            status_reason=config.get("LastUpdateStatusReason"),
            fingerprint=fingerprint(config),
        )

    def version(self, name: str, version: str) -> Version | None:
        try:
            config = self._config(name, version)
        except FunctionMissingError:
            return None
        return _version(config)

    def alias(self, name: str, alias: str) -> Alias | None:
        try:
            found = self.client.get_alias(FunctionName=name, Name=alias)
        except ClientError as err:
            if error_code(err) == _NOT_FOUND:
                return None
            raise
        return _alias(found)

    def served(self, name: str, alias: str) -> Version | None:
        """The version the alias sends callers to (its primary one), with that version's own
        configuration: one GetFunction, from its own budget, where GetAlias shares the
        writes' 15/s. None when the alias does not exist."""
        try:
            found = self.client.get_function(FunctionName=name, Qualifier=alias)
        except ClientError as err:
            if error_code(err) == _NOT_FOUND:
                return None
            raise
        return _version(dict(found["Configuration"]))

    def versions(self, name: str) -> list[Version]:
        """Every published version (not `$LATEST`), oldest first."""
        found: list[Version] = []
        paginator = self.client.get_paginator("list_versions_by_function")
        for page in paginator.paginate(FunctionName=name):
            for config in page.get("Versions", []):
                if config.get("Version") != LATEST:
                    found.append(_version(dict(config)))
        return sorted(found, key=lambda v: int(v.version))

    def code_location(self, name: str) -> str:
        """GetFunction's presigned URL for `$LATEST`'s zip (valid about ten minutes)."""
        return str(self.client.get_function(FunctionName=name)["Code"]["Location"])

    def _config(self, name: str, qualifier: str | None) -> dict[str, Any]:
        # GetFunction, not GetFunctionConfiguration: the same configuration, from a budget
        # of its own (100/s) instead of the 15/s every write shares.
        try:
            if qualifier is None:
                return dict(self.client.get_function(FunctionName=name)["Configuration"])
            return dict(
                self.client.get_function(FunctionName=name, Qualifier=qualifier)["Configuration"]
            )
        except ClientError as err:
            if error_code(err) == _NOT_FOUND:
                raise FunctionMissingError(name) from err
            raise

    # ---- waits ---------------------------------------------------------------------

    def settled(self, name: str, *, failed_ok: bool = False) -> Latest:
        """`$LATEST` once no update is in progress; a Failed update is an error (unless
        `failed_ok`: crash recovery reads a function a dead run left broken, to repair it).

        After our own update, reads are timed by what this run learnt of update windows
        (Pacer.next_poll): usually one read, when the window is over. Until one window is
        known, one update measures it and the others wait for the answer (Pacer.await_window).
        """
        timing, pacer = self.timing, self.pacer
        with self._lock:
            since = self._updated.pop(name, None)
        if since is None:
            return self._poll(name, None, failed_ok=failed_ok)
        scout = pacer.await_window(timing.settle_timeout_s)
        try:
            return self._poll(name, since, failed_ok=failed_ok)
        finally:
            if scout:
                pacer.scouted()

    def _poll(self, name: str, since: float | None, *, failed_ok: bool) -> Latest:
        timing, pacer = self.timing, self.pacer
        start = timing.clock() if since is None else since
        deadline = start + timing.settle_timeout_s
        step = max(timing.poll_delay_s, 0.01)
        wait = 0.0 if since is None else since + pacer.next_poll(timing.clock() - since, first=True)
        while True:
            if wait > timing.clock():
                timing.sleep(min(wait, deadline + 0.01) - timing.clock())
            state = self.latest(name)
            waited = timing.clock() - start
            done = state.status != "InProgress"
            if since is not None:
                pacer.learn_window(waited, done=done)
            if done:
                break
            if timing.clock() > deadline:
                raise LambdaOpError(
                    f"{name}: $LATEST still updating (LastUpdateStatus InProgress"
                    + (f": {state.status_reason}" if state.status_reason else "")
                    + f") after waiting {waited:.0f}s (LAYERS_SETTLE_TIMEOUT="
                    f"{timing.settle_timeout_s:g}); check the function in the console and "
                    "re-run when it shows Successful"
                )
            if since is not None:
                wait = since + pacer.next_poll(waited, first=False)
            else:  # someone else's update: no window of ours to go by
                wait = timing.clock() + step
                step = min(step * 1.5, 15.0)
        if state.status == "Failed" and not failed_ok:
            raise LambdaOpError(
                f"update did not succeed: LastUpdateStatus Failed: {state.status_reason or ''}"
            )
        return state

    def _updating(self, name: str) -> None:
        """Our update was answered: its window runs from now."""
        with self._lock:
            self._updated[name] = self.timing.clock()

    # ---- writes --------------------------------------------------------------------

    def update_code(self, name: str, *, bucket: str, key: str, revision_id: str | None) -> None:
        self.retrying(
            lambda: self.client.update_function_code(
                FunctionName=name, S3Bucket=bucket, S3Key=key, **guard(revision_id)
            ),
            what=f"{name}: code update",
        )
        self._updating(name)

    def update_layers(self, name: str, *, layers: tuple[str, ...], revision_id: str | None) -> None:
        self.retrying(
            lambda: self.client.update_function_configuration(
                FunctionName=name, Layers=list(layers), **guard(revision_id)
            ),
            what=f"{name}: layer update",
        )
        self._updating(name)

    def publish(
        self, name: str, *, code_sha256: str, revision_id: str | None, description: str
    ) -> Version:
        published = self.retrying(
            lambda: self.client.publish_version(
                FunctionName=name,
                CodeSha256=code_sha256,
                Description=description,
                **guard(revision_id),
            ),
            what=f"{name}: publish version",
        )
        return _version(dict(published))

    def create_alias(self, name: str, *, alias: str, version: str, description: str) -> Alias:
        created = self.client.create_alias(
            FunctionName=name, Name=alias, FunctionVersion=version, Description=description
        )
        return _alias(dict(created))

    def update_alias(
        self,
        name: str,
        *,
        alias: str,
        version: str,
        weights: Mapping[str, float],
        revision_id: str | None,
    ) -> Alias:
        updated = self.retrying(
            lambda: self.client.update_alias(
                FunctionName=name,
                Name=alias,
                FunctionVersion=version,
                RoutingConfig={"AdditionalVersionWeights": dict(weights)},
                **guard(revision_id),
            ),
            what=f"{name}: alias {alias} update",
        )
        return _alias(dict(updated))

    def delete_alias(self, name: str, *, alias: str) -> None:
        self.client.delete_alias(FunctionName=name, Name=alias)

    def delete_version(self, name: str, version: str) -> None:
        if not version.isdigit():
            raise ValueError(f"delete_version: {version!r} is not a published version number")
        self.client.delete_function(FunctionName=name, Qualifier=version)

    def retrying(self, call: Callable[[], T], *, what: str) -> T:
        """Run `call`, backing off while Lambda says another update is in progress."""
        delays = iter(self.timing.conflict_delays)
        start = self.timing.clock()
        while True:
            try:
                return call()
            except ClientError as err:
                if error_code(err) != _CONFLICT:
                    raise
                delay = next(delays, None)
                if delay is None:
                    said = str(err.response.get("Error", {}).get("Message", "")).strip()
                    raise LambdaOpError(
                        f"{what}: still 'update in progress' (ResourceConflictException) after "
                        f"{len(self.timing.conflict_delays)} retries over "
                        f"{self.timing.clock() - start:.0f}s (LAYERS_CONFLICT_DELAYS)"
                        + (f": {said}" if said else "")
                        + "; re-run when the function shows LastUpdateStatus Successful"
                    ) from err
                self.timing.sleep(delay)


def _version(config: Mapping[str, Any]) -> Version:
    return Version(
        version=str(config.get("Version", LATEST)),
        code_sha256=str(config.get("CodeSha256", "")),
        layers=tuple(layer["Arn"] for layer in config.get("Layers", [])),
        description=str(config.get("Description", "")),
        fingerprint=fingerprint(config),
        arn=str(config.get("FunctionArn", "")),
    )


def _alias(found: Mapping[str, Any]) -> Alias:
    routing = found.get("RoutingConfig") or {}
    weights = {
        str(k): float(v) for k, v in dict(routing.get("AdditionalVersionWeights") or {}).items()
    }
    return Alias(
        name=str(found["Name"]),
        version=str(found["FunctionVersion"]),
        weights=weights,
        revision_id=found.get("RevisionId"),
    )
