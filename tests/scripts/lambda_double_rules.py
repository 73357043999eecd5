"""What real Lambda does and moto does not, kept as state: the test double's rules.

lambda_double.py is the HTTP side (forwarding, S3 reads, faults on the wire) and
lambda_double_api.py the routing; this module holds no sockets. It keeps:

- revisions: one `RevisionId` per function ($LATEST), per published version and per alias,
  renewed on every write and when an update or a creation settles (real Lambda does, see
  aws/aws-sdk#377), and checked against a write's `RevisionId` (412);
- update windows: `LastUpdateStatus: InProgress` (and `State: Pending` after a create) for a
  while, writes refused meanwhile (409), and a failed update when a test asks for one;
- which version a publish would return unchanged (AWS publishes anew only after an update);
- code bytes by `CodeSha256`, and short-lived download tokens for `Code.Location`.

One lock guards it all; `function_lock(name)` serialises the check-forward-record sequence
of one function so two racing writers cannot both pass the same revision check.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lambda_double_api import Call, Fault, FaultKind, LambdaError, Route, split_function

STALE_REVISION = (
    "The Revision Id provided does not match the latest Revision Id. "
    "Call the GetFunction/GetAlias API to retrieve the latest Revision Id"
)
# What Lambda reports while an update is being applied (yes, "created", even for updates).
BUSY_REASON, BUSY_CODE = "The function is being created.", "Creating"
# Writes Lambda refuses while the previous update (or the creation) is still being applied.
BLOCKED_WHILE_BUSY = frozenset(
    {"UpdateFunctionCode", "UpdateFunctionConfiguration", "PublishVersion"}
)
UPDATES = frozenset({"UpdateFunctionCode", "UpdateFunctionConfiguration"})
# Writes that renew the RevisionId of $LATEST (or of the qualified version/alias).
_RENEWS = UPDATES | {
    "PublishVersion",
    "AddPermission",
    "RemovePermission",
    "PutFunctionConcurrency",
    "DeleteFunctionConcurrency",
}


def new_revision() -> str:
    return str(uuid.uuid4())


def code_sha256(data: bytes) -> str:
    """Lambda's `CodeSha256`: base64 of the SHA-256 digest."""
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


# --- state ---------------------------------------------------------------------------------


@dataclass
class _Function:
    revision: str = field(default_factory=new_revision)
    arn: str = ""
    busy_until: float | None = None  # end of the current creation or update window
    creating: bool = False
    failure: tuple[str, str] | None = None  # (reason, reason code) of the last update
    published: str | None = None  # the version a publish returns while nothing changed
    versions: dict[str, str] = field(default_factory=dict)  # version -> RevisionId
    aliases: dict[str, str] = field(default_factory=dict)  # alias -> RevisionId


@dataclass
class Rules:
    """The double's view of every function it has seen; thread-safe."""

    update_window_s: float
    create_window_s: float
    code_url_ttl_s: float
    clock: Callable[[], float]
    revision_on_settle: bool = True
    calls: list[Call] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    _functions: dict[str, _Function] = field(default_factory=dict)
    _code: dict[str, bytes] = field(default_factory=dict)  # CodeSha256 -> zip bytes
    _tokens: dict[str, tuple[str, float]] = field(default_factory=dict)  # -> (sha, expiry)
    _fn_locks: dict[str, threading.Lock] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)  # rewrite -> code_url

    def function_lock(self, name: str) -> threading.Lock:
        with self._lock:
            return self._fn_locks.setdefault(name, threading.Lock())

    def log(self, call: Call) -> None:
        with self._lock:
            self.calls.append(call)

    def call_log(self, *, clear: bool = False) -> list[Call]:
        with self._lock:
            calls = list(self.calls)
            if clear:
                self.calls.clear()
            return calls

    def add_fault(self, fault: Fault) -> Fault:
        with self._lock:
            self.faults.append(fault)
        return fault

    def take(self, kind: FaultKind, route: Route) -> Fault | None:
        """The first live fault of `kind` for `route`, used up by one."""
        with self._lock:
            for fault in self.faults:
                if fault.matches(kind, route):
                    fault.fired += 1
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
        return None

    # ---- code bytes --------------------------------------------------------------------

    def remember_code(self, data: bytes) -> str:
        sha = code_sha256(data)
        with self._lock:
            self._code[sha] = data
        return sha

    def code(self, sha: str) -> bytes | None:
        """The zip bytes of this `CodeSha256`, if the double saw them."""
        with self._lock:
            return self._code.get(sha)

    def code_token(self, sha: str) -> str:
        token = secrets.token_urlsafe(16)
        with self._lock:
            self._tokens[token] = (sha, self.clock() + self.code_url_ttl_s)
        return token

    def code_for(self, token: str) -> tuple[bytes | None, bool]:
        """(bytes or None if unknown, expired?) for a download token."""
        with self._lock:
            sha, expiry = self._tokens.get(token, ("", 0.0))
            return self._code.get(sha), self.clock() >= expiry

    # ---- revisions and windows ---------------------------------------------------------

    def _settled(self, name: str) -> _Function:
        """The function's state (created on first sight), its window closed if it is over."""
        fn = self._functions.setdefault(name, _Function())
        if fn.busy_until is not None and self.clock() >= fn.busy_until:
            fn.busy_until, fn.creating = None, False
            if self.revision_on_settle:
                fn.revision = new_revision()
        return fn

    def _target(self, fn: _Function, qualifier: str | None) -> str:
        if qualifier in (None, "$LATEST"):
            return fn.revision
        table = fn.aliases if qualifier in fn.aliases else fn.versions
        return table.setdefault(str(qualifier), new_revision())

    def unchanged_version(self, route: Route) -> str | None:
        """The version a PublishVersion returns instead of a new one: the last published,
        if no update went through the double since (moto alone gets this wrong after a
        function's first publish)."""
        with self._lock:
            fn = self._functions.get(route.function or "")
            return fn.published if fn is not None else None

    def check(self, route: Route, body: dict[str, Any], latest_sha: str | None) -> None:
        """Raise the LambdaError real Lambda answers `route` with before applying it."""
        if route.function is None or route.operation == "CreateFunction":
            return
        with self._lock:
            if route.function not in self._functions:
                return  # never seen through the double: nothing to hold it to
            fn = self._settled(route.function)
            given = body.get("RevisionId") or route.query.get("RevisionId")
            if given and route.operation in _RENEWS | {"UpdateAlias"}:
                qualifier = route.qualifier if route.operation != "PublishVersion" else None
                if given != self._target(fn, qualifier):
                    raise LambdaError(412, "PreconditionFailedException", STALE_REVISION)
            wanted = body.get("CodeSha256")
            if route.operation == "PublishVersion" and wanted and wanted != latest_sha:
                raise LambdaError(
                    400,
                    "InvalidParameterValueException",
                    f"CodeSHA256 ({wanted}) is different from current CodeSHA256 in $LATEST "
                    f"({latest_sha}). Please try again with the CodeSHA256 in $LATEST.",
                )
            if fn.busy_until is not None and route.operation in BLOCKED_WHILE_BUSY:
                doing = (
                    "The function is currently in the following state: Pending"
                    if fn.creating
                    else f"An update is in progress for resource: {fn.arn}"
                )
                raise LambdaError(
                    409,
                    "ResourceConflictException",
                    f"The operation cannot be performed at this time. {doing}",
                )

    def applied(
        self, route: Route, body: dict[str, Any], result: dict[str, Any], failure: Fault | None
    ) -> None:
        """Record a write moto accepted: new revisions, a new window, forgotten names."""
        name, op, now = route.function, route.operation, self.clock()
        if name is None:
            return
        with self._lock:
            if op == "CreateFunction":
                busy = self.create_window_s > 0
                self._functions[name] = _Function(
                    busy_until=now + self.create_window_s if busy else None, creating=busy
                )
                return
            if op == "DeleteFunction":
                if route.qualifier in (None, "$LATEST"):
                    self._functions.pop(name, None)
                elif (fn := self._functions.get(name)) is not None:
                    fn.versions.pop(route.qualifier, None)
                    fn.published = None if fn.published == route.qualifier else fn.published
                return
            fn = self._settled(name)
            if op in UPDATES:
                if body.get("DryRun"):
                    return
                fn.revision, fn.published = new_revision(), None
                fn.failure = (failure.reason, failure.reason_code) if failure else None
                fn.busy_until = now + self.update_window_s if self.update_window_s > 0 else None
            elif op == "PublishVersion":
                version = str(result.get("Version", ""))
                if version and version not in fn.versions:
                    fn.versions[version] = new_revision()
                    fn.revision = new_revision()
                fn.published = version or None
            elif op in ("CreateAlias", "UpdateAlias") and route.qualifier:
                fn.aliases[route.qualifier] = new_revision()
            elif op == "DeleteAlias" and route.qualifier:
                fn.aliases.pop(route.qualifier, None)
            elif op in _RENEWS:
                qualifier = route.qualifier if op in ("AddPermission", "RemovePermission") else None
                if qualifier in (None, "$LATEST"):
                    fn.revision = new_revision()
                elif qualifier in fn.aliases:
                    fn.aliases[str(qualifier)] = new_revision()
                else:
                    fn.versions[str(qualifier)] = new_revision()

    def rewrite(self, route: Route, result: dict[str, Any], code_url: Callable[[str], str]) -> None:
        """Put the double's revisions, states and code locations into a moto response."""
        with self._lock:
            op = route.operation
            if op in ("CreateAlias", "UpdateAlias", "GetAlias"):
                self._alias(result)
            elif op == "ListAliases":
                for alias in result.get("Aliases", []):
                    self._alias(alias)
            elif op == "GetFunction":
                self._config(result.get("Configuration", {}))
                sha = result.get("Configuration", {}).get("CodeSha256")
                if sha and isinstance(result.get("Code"), dict):
                    result["Code"]["Location"] = code_url(sha)
            elif op in ("ListVersionsByFunction", "ListFunctions"):
                for config in result.get("Versions", result.get("Functions", [])):
                    self._config(config)
            elif op == "GetPolicy" and route.function and "RevisionId" in result:
                fn = self._settled(route.function)
                result["RevisionId"] = self._target(fn, route.qualifier)
            elif "FunctionName" in result and "Version" in result:
                self._config(result)

    def _alias(self, alias: dict[str, Any]) -> None:
        name = str(alias.get("AliasArn", "")).split(":")[6:7]
        if name and "Name" in alias:
            fn = self._settled(name[0])
            alias["RevisionId"] = fn.aliases.setdefault(alias["Name"], new_revision())

    def _config(self, config: dict[str, Any]) -> None:
        if "FunctionName" not in config:
            return
        fn = self._settled(split_function(config["FunctionName"])[0])
        version = str(config.get("Version", "$LATEST"))
        if version != "$LATEST":
            config["RevisionId"] = fn.versions.setdefault(version, new_revision())
            return
        fn.arn = str(config.get("FunctionArn", fn.arn))
        config["RevisionId"] = fn.revision
        for key in ("LastUpdateStatusReason", "LastUpdateStatusReasonCode"):
            config.pop(key, None)
        if fn.busy_until is not None and fn.creating:
            config.pop("LastUpdateStatus", None)
            config.update(State="Pending", StateReason=BUSY_REASON, StateReasonCode=BUSY_CODE)
            return
        config["State"] = "Active"
        if fn.busy_until is not None:
            status, reason, reason_code = "InProgress", BUSY_REASON, BUSY_CODE
        elif fn.failure:
            status, (reason, reason_code) = "Failed", fn.failure
        else:
            config["LastUpdateStatus"] = "Successful"
            return
        config.update(
            LastUpdateStatus=status,
            LastUpdateStatusReason=reason,
            LastUpdateStatusReasonCode=reason_code,
        )
