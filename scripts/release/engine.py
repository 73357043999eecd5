"""Lambda operations shared by deploy, rollback and prune: wait, retry, guard, restore.

Real deployments break between calls, not inside them: a configuration update sent
while the code update is still settling gets "update in progress" (ResourceConflict), a
racing CI run changes a function between our read and our write, and a failure halfway
leaves a function with new code but the old layer. So every change here is:

- guarded by the `RevisionId` we read (a racing writer makes Lambda refuse ours),
- retried with backoff on ResourceConflict only (the delays are injectable for tests),
- followed by the `function_updated_v2` waiter and a re-read that checks Lambda now
  reports exactly what we asked for,
- and, when anything fails, undone: every function we touched is put back to the code and
  layers recorded before the first change.

A function already at its target gets no update call at all, so a repeated deploy is
reads only.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import ClientError, WaiterError

from scripts.errors import BadInputError, ToolError

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

T = TypeVar("T")

# arn:PARTITION:lambda:REGION:ACCOUNT:layer:NAME:VERSION
_LAYER_VERSION_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-zA-Z-]*):lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12})"
    r":layer:(?P<name>[A-Za-z0-9_-]{1,140}):(?P<version>[1-9]\d*)$"
)
# Lambda refuses an update while the previous one is still being applied.
_CONFLICT = "ResourceConflictException"


class LambdaOpError(ToolError):
    """One function could not be brought to its target (the message says why)."""


class GuardError(LambdaOpError):
    """Lambda refused our update: the function changed since we read it (RevisionId)."""


class FunctionMissingError(BadInputError):
    """The function does not exist (yet): Terraform creates it, not the scripts."""

    def __init__(self, name: str) -> None:
        super().__init__(f"function {name} does not exist: run `cdktf deploy` first")
        self.name = name


class CancelledError(LambdaOpError):
    """Another function failed first; this one stopped before its next change."""


class ApplyFailedError(ToolError):
    """Some function failed; every touched function was restored (or says why not)."""

    def __init__(self, summary: str, outcomes: Mapping[str, FunctionOutcome]) -> None:
        lines = [summary, *(f"  {o.line()}" for o in outcomes.values())]
        super().__init__("\n".join(lines))
        self.outcomes = dict(outcomes)


@dataclass(frozen=True, kw_only=True)
class Retry:
    """How long to back off on conflicts and poll while an update settles.

    Injectable so tests run the same code paths without sleeping.
    """

    conflict_delays: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 15.0, 15.0)
    sleep: Callable[[float], None] = time.sleep
    # botocore waiter settings: Lambda finishes most updates within seconds.
    waiter_delay: int = 1
    waiter_max_attempts: int = 300

    def __post_init__(self) -> None:
        if any(d < 0 for d in self.conflict_delays):
            raise ValueError("conflict_delays: delays must be >= 0")
        if self.waiter_delay < 0 or self.waiter_max_attempts < 1:
            raise ValueError("waiter: delay >= 0 and max_attempts >= 1 required")


@dataclass(frozen=True, kw_only=True)
class LayerVersionRef:
    """A parsed layer version ARN; layers are regional and per account."""

    arn: str
    partition: str
    region: str
    account: str
    name: str
    version: int


def parse_layer_version_arn(arn: str) -> LayerVersionRef:
    match = _LAYER_VERSION_ARN.match(arn)
    if not match:
        raise BadInputError(
            f"{arn!r} is not a layer version ARN (arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION)"
        )
    return LayerVersionRef(
        arn=arn,
        partition=match["partition"],
        region=match["region"],
        account=match["account"],
        name=match["name"],
        version=int(match["version"]),
    )


def layer_name_of(arn: str) -> str | None:
    match = _LAYER_VERSION_ARN.match(arn)
    return match["name"] if match else None


def replace_deps_layer(
    layers: tuple[str, ...], *, layer_name: str, new_arn: str
) -> tuple[str, ...]:
    """This environment's deps layer swapped for `new_arn`, every other layer kept in place.

    Matching is by the layer's name in the ARN, so a vendor extension or another team's
    layer attached beside ours survives a deploy. Without a deps layer yet, it is appended.
    """
    result: list[str] = []
    placed = False
    for arn in layers:
        if layer_name_of(arn) == layer_name:
            if not placed:
                result.append(new_arn)
                placed = True
        else:
            result.append(arn)
    if not placed:
        result.append(new_arn)
    return tuple(result)


@dataclass(frozen=True, kw_only=True)
class FunctionState:
    """What a function runs, as recorded before a change (the restore point)."""

    name: str
    arn: str
    code_sha256: str
    layers: tuple[str, ...]
    revision_id: str | None
    last_update_status: str | None = None

    @property
    def account(self) -> str:
        return self.arn.split(":")[4]

    @property
    def region(self) -> str:
        return self.arn.split(":")[3]

    def to_json(self) -> dict[str, Any]:
        return {"code_sha256": self.code_sha256, "layers": list(self.layers)}


@dataclass(frozen=True, kw_only=True)
class CodeSource:
    """A package Lambda can read from S3, with the `CodeSha256` it must report afterwards."""

    bucket: str
    key: str
    code_sha256: str

    def __post_init__(self) -> None:
        if not self.bucket or not self.key or not self.code_sha256:
            raise ValueError("CodeSource: bucket, key and code_sha256 are all required")


@dataclass(frozen=True, kw_only=True)
class FunctionTarget:
    """Where one function should end up; `code=None` keeps its current code."""

    code: CodeSource | None
    layers: tuple[str, ...]


class Status(Enum):
    UNCHANGED = "unchanged"
    UPDATED = "updated"
    UNTOUCHED = "untouched"
    RESTORED = "restored"
    RESTORE_FAILED = "restore-failed"


@dataclass(kw_only=True)
class FunctionOutcome:
    name: str
    status: Status
    code_updated: bool = False
    layers_updated: bool = False
    error: str | None = None

    @property
    def updated(self) -> bool:
        return self.code_updated or self.layers_updated

    def line(self) -> str:
        text = {
            Status.UNCHANGED: "already at the target: no update call",
            Status.UPDATED: "updated"
            + (" (code)" if self.code_updated and not self.layers_updated else "")
            + (" (layers)" if self.layers_updated and not self.code_updated else "")
            + (" (code and layers)" if self.code_updated and self.layers_updated else ""),
            Status.UNTOUCHED: "untouched: nothing was changed",
            Status.RESTORED: "restored to its previous code and layers",
            Status.RESTORE_FAILED: "RESTORE FAILED: fix by hand (see the recorded state above)",
        }[self.status]
        return f"{self.name}: {text}" + (f" [{self.error}]" if self.error else "")

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "updated": self.updated,
            "code_updated": self.code_updated,
            "layers_updated": self.layers_updated,
            "error": self.error,
        }


def _error_code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def _describe(err: BaseException) -> str:
    if isinstance(err, ClientError):
        message = err.response.get("Error", {}).get("Message", "")
        return f"{_error_code(err)}: {message}".rstrip(": ")
    return str(err) or type(err).__name__


def read_function(client: LambdaClient, name: str) -> FunctionState:
    try:
        config = client.get_function_configuration(FunctionName=name)
    except ClientError as err:
        if _error_code(err) == "ResourceNotFoundException":
            raise FunctionMissingError(name) from err
        raise
    return FunctionState(
        name=name,
        arn=config["FunctionArn"],
        code_sha256=config.get("CodeSha256", ""),
        layers=tuple(layer["Arn"] for layer in config.get("Layers", [])),
        revision_id=config.get("RevisionId"),
        last_update_status=config.get("LastUpdateStatus"),
    )


def wait_updated(client: LambdaClient, name: str, retry: Retry) -> None:
    """Block until Lambda has applied the last update; a Failed update is an error."""
    waiter = client.get_waiter("function_updated_v2")
    try:
        waiter.wait(
            FunctionName=name,
            WaiterConfig={"Delay": retry.waiter_delay, "MaxAttempts": retry.waiter_max_attempts},
        )
    except WaiterError as err:
        last: Any = err.last_response
        config = last.get("Configuration", {}) if isinstance(last, dict) else {}
        status = config.get("LastUpdateStatus", "unknown")
        reason = config.get("LastUpdateStatusReason", "") or str(err)
        raise LambdaOpError(f"update did not succeed: LastUpdateStatus {status}: {reason}") from err


def with_conflict_retry(call: Callable[[], T], *, retry: Retry, what: str) -> T:
    """Run `call`, backing off while Lambda says another update is in progress."""
    delays = iter(retry.conflict_delays)
    while True:
        try:
            return call()
        except ClientError as err:
            if _error_code(err) != _CONFLICT:
                raise
            delay = next(delays, None)
            if delay is None:
                raise LambdaOpError(
                    f"{what}: still 'update in progress' after {len(retry.conflict_delays)} "
                    "retries: another deployment may be running; re-run when it has finished"
                ) from err
            retry.sleep(delay)


def _update_code(client: LambdaClient, name: str, code: CodeSource, revision: str | None) -> object:
    # Lambda omits RevisionId only on emulators; real functions always carry one.
    if revision:
        return client.update_function_code(
            FunctionName=name, S3Bucket=code.bucket, S3Key=code.key, RevisionId=revision
        )
    return client.update_function_code(FunctionName=name, S3Bucket=code.bucket, S3Key=code.key)


def _update_layers(
    client: LambdaClient, name: str, layers: tuple[str, ...], revision: str | None
) -> object:
    if revision:
        return client.update_function_configuration(
            FunctionName=name, Layers=list(layers), RevisionId=revision
        )
    return client.update_function_configuration(FunctionName=name, Layers=list(layers))


@dataclass
class _Progress:
    """What has (possibly) landed on one function; guarded by the GIL-atomic assignments."""

    maybe_changed: bool = False
    code_updated: bool = False
    layers_updated: bool = False


@dataclass
class Engine:
    """Applies per-function targets with guards, and restores on any failure."""

    client: LambdaClient
    retry: Retry = field(default_factory=Retry)
    max_workers: int | None = None
    on_progress: Callable[[str], None] = lambda _message: None
    _say_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _say(self, message: str) -> None:
        # Workers report from several threads; one line at a time.
        with self._say_lock:
            self.on_progress(message)

    def record(self, names: tuple[str, ...]) -> dict[str, FunctionState]:
        """Read every function (in parallel) before any change; missing ones fail here."""
        with ThreadPoolExecutor(max_workers=self.max_workers or len(names)) as pool:
            states = list(pool.map(self._settled_state, names))
        return {s.name: s for s in states}

    def _settled_state(self, name: str) -> FunctionState:
        state = read_function(self.client, name)
        if state.last_update_status == "InProgress":
            # Someone else's update is settling: record what it leaves, not a moving target.
            wait_updated(self.client, name, self.retry)
            state = read_function(self.client, name)
        return state

    def apply(
        self,
        *,
        recorded: Mapping[str, FunctionState],
        targets: Mapping[str, FunctionTarget],
        restore_code: Mapping[str, CodeSource],
    ) -> dict[str, FunctionOutcome]:
        """Bring every function to its target; on failure restore all touched ones and raise.

        `restore_code[name]` is the package of the recorded code; it is required for every
        function whose code changes, and checked here before the first call.
        """
        missing = [
            name
            for name, target in targets.items()
            if target.code is not None
            and target.code.code_sha256 != recorded[name].code_sha256
            and name not in restore_code
        ]
        if missing:
            raise ToolError(
                f"cannot guarantee a restore of {', '.join(sorted(missing))}: their current "
                "code matches no package in the store; nothing was changed"
            )
        cancel = threading.Event()
        progress = {name: _Progress() for name in targets}
        errors: dict[str, BaseException] = {}

        def run(name: str) -> None:
            try:
                self._apply_one(name, recorded[name], targets[name], progress[name], cancel)
            except Exception as err:
                errors[name] = err
                cancel.set()

        names = tuple(targets)
        with ThreadPoolExecutor(max_workers=self.max_workers or len(names)) as pool:
            list(pool.map(run, names))

        if not errors:
            return {
                name: FunctionOutcome(
                    name=name,
                    status=Status.UPDATED
                    if progress[name].code_updated or progress[name].layers_updated
                    else Status.UNCHANGED,
                    code_updated=progress[name].code_updated,
                    layers_updated=progress[name].layers_updated,
                )
                for name in names
            }
        outcomes = self._restore_all(recorded, restore_code, progress, errors)
        first = next(
            (e for e in errors.values() if not isinstance(e, CancelledError)),
            next(iter(errors.values())),
        )
        raise ApplyFailedError(
            f"failed: {_describe(first)}; every touched function was put back", outcomes
        ) from first

    def _mutate(
        self, name: str, progress: _Progress, what: str, call: Callable[[], object]
    ) -> None:
        """One guarded update; `maybe_changed` is cleared again when Lambda rejected it."""
        was = progress.maybe_changed
        progress.maybe_changed = True
        try:
            with_conflict_retry(call, retry=self.retry, what=f"{name}: {what}")
        except ClientError as err:
            # Lambda answered with an error: the request was refused, nothing landed.
            progress.maybe_changed = was
            if _error_code(err) == "PreconditionFailedException":
                raise GuardError(
                    f"{what} refused: the function changed since it was read "
                    "(RevisionId); another deployment may be running"
                ) from err
            raise LambdaOpError(f"{what} failed: {_describe(err)}") from err
        except LambdaOpError:
            progress.maybe_changed = was  # conflicts exhausted: every attempt was refused
            raise

    def _apply_one(
        self,
        name: str,
        before: FunctionState,
        target: FunctionTarget,
        progress: _Progress,
        cancel: threading.Event,
    ) -> None:
        code = target.code
        need_code = code is not None and code.code_sha256 != before.code_sha256
        need_layers = target.layers != before.layers
        if not need_code and not need_layers:
            return
        revision = before.revision_id
        if need_code and code is not None:
            if cancel.is_set():
                raise CancelledError("stopped: another function failed")
            self._mutate(
                name,
                progress,
                "code update",
                lambda: _update_code(self.client, name, code, revision),
            )
            wait_updated(self.client, name, self.retry)
            now = read_function(self.client, name)
            if now.code_sha256 != code.code_sha256:
                raise LambdaOpError(
                    f"after the code update Lambda reports CodeSha256 {now.code_sha256}, "
                    f"expected {code.code_sha256} (s3://{code.bucket}/{code.key})"
                )
            if now.layers != before.layers:
                raise GuardError("its layers changed during the deploy: another deployment?")
            progress.code_updated = True
            self._say(f"  {name}: code updated")
            revision = now.revision_id
        if need_layers:
            if cancel.is_set():
                raise CancelledError("stopped: another function failed")
            self._mutate(
                name,
                progress,
                "layer update",
                lambda: _update_layers(self.client, name, target.layers, revision),
            )
            wait_updated(self.client, name, self.retry)
            now = read_function(self.client, name)
            if now.layers != target.layers:
                raise LambdaOpError(
                    f"after the layer update Lambda reports {list(now.layers)}, "
                    f"expected {list(target.layers)}"
                )
            progress.layers_updated = True
            self._say(f"  {name}: layers set")

    def _restore_all(
        self,
        recorded: Mapping[str, FunctionState],
        restore_code: Mapping[str, CodeSource],
        progress: Mapping[str, _Progress],
        errors: Mapping[str, BaseException],
    ) -> dict[str, FunctionOutcome]:
        def restore(name: str) -> FunctionOutcome:
            error = errors.get(name)
            note = _describe(error) if error is not None else None
            if not progress[name].maybe_changed:
                return FunctionOutcome(name=name, status=Status.UNTOUCHED, error=note)
            try:
                self._restore_one(recorded[name], restore_code.get(name))
            except Exception as err:
                return FunctionOutcome(
                    name=name,
                    status=Status.RESTORE_FAILED,
                    error=f"{note}; restore: {_describe(err)}; recorded: "
                    f"code {recorded[name].code_sha256}, layers {list(recorded[name].layers)}",
                )
            return FunctionOutcome(name=name, status=Status.RESTORED, error=note)

        with ThreadPoolExecutor(max_workers=self.max_workers or len(progress)) as pool:
            results = list(pool.map(restore, tuple(progress)))
        return {o.name: o for o in results}

    def _restore_one(self, before: FunctionState, code: CodeSource | None) -> None:
        name = before.name
        # A Failed update is terminal: Lambda accepts the next one, so go on and restore.
        with contextlib.suppress(LambdaOpError):
            wait_updated(self.client, name, self.retry)
        now = read_function(self.client, name)
        if now.code_sha256 != before.code_sha256:
            if code is None:
                raise LambdaOpError("no package recorded for its previous code")
            revision = now.revision_id
            with_conflict_retry(
                lambda: _update_code(self.client, name, code, revision),
                retry=self.retry,
                what=f"{name}: restore code",
            )
            wait_updated(self.client, name, self.retry)
            now = read_function(self.client, name)
        if now.layers != before.layers:
            revision = now.revision_id
            with_conflict_retry(
                lambda: _update_layers(self.client, name, before.layers, revision),
                retry=self.retry,
                what=f"{name}: restore layers",
            )
            wait_updated(self.client, name, self.retry)
            now = read_function(self.client, name)
        if now.code_sha256 != before.code_sha256 or now.layers != before.layers:
            raise LambdaOpError(
                f"after restoring, Lambda reports code {now.code_sha256} and layers "
                f"{list(now.layers)}"
            )
        self._say(f"  {name}: restored")
