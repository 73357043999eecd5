"""What discover read from AWS, before it is expressed as configuration.

Plain frozen records holding the API's own answers (dicts as boto3 returns them), so the
reading (reads.py) and the judging (express.py) can be tested apart, and a gap names the
API attribute it comes from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, kw_only=True)
class Gap:
    """Something discover could not read, or the configuration cannot say."""

    resource: str
    attribute: str
    reason: str

    def line(self) -> str:
        return f"{self.resource}: {self.attribute}: {self.reason}"


@dataclass(frozen=True, kw_only=True)
class RoleFacts:
    name: str
    arn: str
    path: str = "/"
    inline: Mapping[str, str] = field(default_factory=dict)
    attached: tuple[str, ...] = ()
    # Every function in the account (any prefix) that runs with this role.
    used_by: tuple[str, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)
    # The trust policy: a role we adopt must be one Lambda alone assumes.
    assume_role_document: str = ""


@dataclass(frozen=True, kw_only=True)
class RuleTarget:
    """An EventBridge rule's target that invokes the function (qualified or not)."""

    rule: Mapping[str, Any]
    target: Mapping[str, Any]

    @property
    def qualifier(self) -> str | None:
        return qualifier_of(str(self.target.get("Arn", "")))


@dataclass(frozen=True, kw_only=True)
class ExternalCallerFacts:
    """An invoker managed outside the function's stack: API Gateway, a function URL."""

    kind: str
    id: str
    # The function ARN (qualified or not) the caller names.
    function_arn: str
    owner: str = ""

    @property
    def qualifier(self) -> str | None:
        return qualifier_of(self.function_arn)


@dataclass(frozen=True, kw_only=True)
class FunctionFacts:
    name: str
    configuration: Mapping[str, Any]
    tags: Mapping[str, str] = field(default_factory=dict)
    reserved_concurrency: int | None = None
    aliases: tuple[Mapping[str, Any], ...] = ()
    versions: tuple[str, ...] = ()
    # Resource-policy statements, each with the qualifier its Resource names (None: the
    # unqualified function).
    statements: tuple[tuple[str | None, Mapping[str, Any]], ...] = ()
    mappings: tuple[Mapping[str, Any], ...] = ()
    rule_targets: tuple[RuleTarget, ...] = ()
    log_group: Mapping[str, Any] | None = None
    role: RoleFacts | None = None
    provisioned: tuple[Mapping[str, Any], ...] = ()
    async_invoke: Mapping[str, Any] | None = None
    callers: tuple[ExternalCallerFacts, ...] = ()

    @property
    def arn(self) -> str:
        return str(self.configuration.get("FunctionArn", ""))

    @property
    def package_type(self) -> str:
        return str(self.configuration.get("PackageType", "Zip"))


@dataclass(frozen=True, kw_only=True)
class EstateFacts:
    region: str
    prefix: str
    functions: tuple[FunctionFacts, ...]
    gaps: tuple[Gap, ...] = ()
    # Reads the endpoint does not implement (a local rehearsal on moto): said, not fatal.
    unsupported: tuple[str, ...] = ()


def qualifier_of(arn: str) -> str | None:
    """`arn:aws:lambda:R:A:function:NAME[:QUALIFIER]` -> QUALIFIER (None when unqualified);
    an API Gateway invocation URI (`.../functions/ARN/invocations`) is unwrapped first."""
    inner = function_arn_in(arn)
    parts = inner.split(":")
    if len(parts) == 8 and parts[5] == "function":
        return parts[7]
    return None


def function_arn_in(text: str) -> str:
    """The Lambda function ARN inside an API Gateway integration URI, or `text` itself."""
    marker = "/functions/"
    if marker in text and text.endswith("/invocations"):
        return text.split(marker, 1)[1].removesuffix("/invocations")
    return text


def function_name_of(arn: str) -> str:
    """The function name in a (qualified) function ARN, or `arn` when it is a bare name."""
    parts = function_arn_in(arn).split(":")
    if len(parts) >= 7 and parts[5] == "function":
        return parts[6]
    return arn
