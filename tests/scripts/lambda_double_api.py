"""The Lambda REST API as the test double speaks it: operations, names, errors, faults.

Routing takes method + path to the operation name from botocore's own Lambda model (no
hand-kept table), and normalises the function, given as a name, `name:qualifier`, a partial
ARN or an ARN (URL-encoded), to its name. Errors are written in Lambda's REST-JSON format so
botocore raises the same exception classes as against AWS. `Call` and `Fault` are what tests
read and inject (lambda_double.py); the state lives in lambda_double_rules.py.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl, quote, unquote

import botocore.session


class LambdaError(Exception):
    """An error answered the way Lambda's REST-JSON protocol does (botocore parses it)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        extra: dict[str, str] | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message
        self.extra = dict(extra or {})
        self.retry_after_s = retry_after_s  # sent as `Retry-After` (a 429's)

    def body(self) -> bytes:
        kind = "Service" if self.status >= 500 else "User"
        return json.dumps({"Type": kind, "message": self.message, **self.extra}).encode()


def missing_object(s3_code: str) -> LambdaError:
    detail = {
        "NoSuchKey": "The specified key does not exist.",
        "NoSuchBucket": "The specified bucket does not exist",
    }.get(s3_code, s3_code)
    message = (
        f"Error occurred while GetObject. S3 Error Code: {s3_code}. S3 Error Message: {detail}"
    )
    return LambdaError(400, "InvalidParameterValueException", message)


@dataclass(frozen=True)
class Request:
    """One HTTP request as received (target = path?query, as sent)."""

    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes = b""

    def header(self, name: str) -> str:
        return next((v for k, v in self.headers if k.lower() == name), "")


# --- routing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """One Lambda API request: its operation and the names in its path and query."""

    operation: str
    function: str | None = None  # function name, normalised from a name or (partial) ARN
    qualifier: str | None = None  # version or alias (Qualifier, ARN suffix or alias name)
    layer: str | None = None
    query: dict[str, str] = field(default_factory=dict)
    # What moto is sent: the function as `name` or `name:qualifier` (moto answers a
    # `:$LATEST` suffix with 404 and a partial ARN with 500; Lambda takes both).
    target: str = ""


@functools.cache
def _patterns() -> tuple[tuple[str, re.Pattern[str], dict[str, str], str], ...]:
    """(method, path regex, required query, operation) for every Lambda operation."""
    model = botocore.session.get_session().get_service_model("lambda")
    found = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        path, _, query = http["requestUri"].partition("?")
        regex = re.sub(
            r"\\\{(\w+)(\\\+)?\\\}",
            lambda m: f"(?P<{m[1]}>{'.+' if m[2] else '[^/]+'})",
            re.escape(path),
        )
        found.append((http["method"], re.compile(f"^{regex}$"), dict(parse_qsl(query)), name))
    # A literal query (`?find=LayerVersion`) tells apart operations that share a path.
    return tuple(sorted(found, key=lambda p: not p[2]))


def split_function(raw: str) -> tuple[str, str | None]:
    """`name`, `name:qual`, `123456789012:function:name[:qual]` or an ARN -> (name, qual)."""
    parts = unquote(raw).split(":")
    if parts[0] == "arn" and len(parts) >= 7:
        return parts[6], (parts[7] if len(parts) > 7 else None)
    if len(parts) >= 3 and parts[1] == "function":
        return parts[2], (parts[3] if len(parts) > 3 else None)
    return parts[0], (parts[1] if len(parts) > 1 else None)


def route_of(method: str, target: str, body: dict[str, Any]) -> Route | None:
    """The Lambda operation for `method` and `target` (path?query), or None if none matches."""
    path, _, raw_query = target.partition("?")
    query = dict(parse_qsl(raw_query, keep_blank_values=True))
    for verb, pattern, required, name in _patterns():
        match = pattern.match(path) if verb == method else None
        if not match or any(query.get(k) != v for k, v in required.items()):
            continue
        labels = match.groupdict()
        function, qualifier, forwarded = None, None, target
        if "FunctionName" in labels:
            function, qualifier = split_function(labels["FunctionName"])
            plain = function if qualifier in (None, "$LATEST") else f"{function}:{qualifier}"
            start, end = match.span("FunctionName")
            forwarded = f"{path[:start]}{quote(plain, safe='')}{path[end:]}" + target[len(path) :]
        elif name == "CreateFunction" and isinstance(body.get("FunctionName"), str):
            function = split_function(body["FunctionName"])[0]
        qualifier = query.get("Qualifier", qualifier)
        if "Name" in labels:  # the alias operations
            qualifier = unquote(labels["Name"])
        elif name == "CreateAlias" and isinstance(body.get("Name"), str):
            qualifier = body["Name"]
        layer = unquote(labels["LayerName"]).split(":")[-1] if "LayerName" in labels else None
        if "VersionNumber" in labels:
            qualifier = labels["VersionNumber"]
        return Route(name, function, qualifier, layer, query, forwarded)
    return None


# --- what tests see and inject -------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One Lambda request as it reached the double (before any rule or fault applied)."""

    operation: str
    function: str | None  # the function's name, or the layer's for layer operations
    qualifier: str | None
    body: dict[str, Any]


FaultKind = Literal["lose", "slow", "fail", "fail_update"]


@dataclass
class Fault:
    """An injected fault; `times=None` fires forever. `fired` counts how often it did."""

    kind: FaultKind
    operation: str
    function: str | None = None
    times: int | None = 1
    seconds: float = 0.0
    error: LambdaError | None = None
    reason: str = ""
    reason_code: str = ""
    fired: int = 0

    def matches(self, kind: FaultKind, route: Route) -> bool:
        name = route.function or route.layer
        return (
            self.kind == kind
            and self.operation == route.operation
            and (self.function is None or self.function == name)
            and (self.times is None or self.times > 0)
        )
