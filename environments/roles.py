"""A function's execution role: one that exists and stays untouched, or one the stack manages."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import ClassVar, Literal

from environments.errors import ConfigError

# IAM names: letters, digits and +=,.@_- ; 64 characters for a role, 128 for a policy.
_ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")
_POLICY_NAME = re.compile(r"^[\w+=,.@-]{1,128}$")
_ROLE_ARN = re.compile(
    r"^arn:aws[a-z-]*:iam::\d{12}:role/(?:[\w+=,.@-]+/)*(?P<name>[\w+=,.@-]{1,64})$"
)
_POLICY_ARN = re.compile(
    r"^arn:aws[a-z-]*:iam::(?:aws|\d{12}):policy/(?:[\w+=,.@-]+/)*[\w+=,.@-]+$"
)
_ACTION = re.compile(r"^[a-z0-9-]+:[A-Za-z0-9*]+$")
_SID = re.compile(r"^[A-Za-z0-9]+$")
# IAM's own limit on managed policies attached to one role.
MAX_MANAGED_POLICIES = 20

# AWS managed policies the stack attaches to a role it creates when the function needs them.
ENI_MANAGEMENT_POLICY = "arn:aws:iam::aws:policy/service-role/AWSLambdaENIManagementAccess"
XRAY_WRITE_POLICY = "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess"
# Managed policies that already grant the ENI permissions (the VPC one adds logging).
ENI_POLICIES = (
    ENI_MANAGEMENT_POLICY,
    "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
)


@dataclass(frozen=True, kw_only=True)
class PolicyStatement:
    """One statement of a created role's inline policy (what the function's code calls)."""

    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    effect: Literal["Allow", "Deny"] = "Allow"

    def __post_init__(self) -> None:
        where = f"statements[{self.sid}]"
        if not _SID.match(self.sid):
            raise ConfigError(f"statements.sid: got {self.sid!r}; use letters and digits")
        if not self.actions or not all(_ACTION.match(a) for a in self.actions):
            raise ConfigError(f"{where}.actions: got {self.actions!r}; use service:Action names")
        if not self.resources:
            raise ConfigError(f"{where}.resources: at least one resource ARN is required")
        if self.effect not in ("Allow", "Deny"):
            raise ConfigError(f"{where}.effect: got {self.effect!r}; allowed: Allow, Deny")


@dataclass(frozen=True, kw_only=True)
class ExistingRole:
    """A role made and managed elsewhere: the function uses it; the stack never changes it.

    `role` is the role's name or ARN. Nothing is created, attached or imported for it, so
    the ENI and X-Ray permissions a VPC or tracing need must already be on it.
    """

    role: str

    KIND: ClassVar[str] = "existing"

    def __post_init__(self) -> None:
        if not (_ROLE_NAME.match(self.role) or _ROLE_ARN.match(self.role)):
            raise ConfigError(
                f"role: got {self.role!r}; use a role name or arn:aws:iam::ACCOUNT:role/NAME"
            )

    @property
    def arn(self) -> str | None:
        """The ARN when one was given; a bare name is looked up by Terraform."""
        return self.role if _ROLE_ARN.match(self.role) else None

    @property
    def name(self) -> str:
        found = _ROLE_ARN.match(self.role)
        return found.group("name") if found else self.role


@dataclass(frozen=True, kw_only=True)
class InlinePolicy:
    """An inline policy the role already has, adopted as it is (an aws_iam_role_policy).

    `document` is the policy's JSON; it is kept normalized (keys sorted, no whitespace) so
    a file written from AWS and one written by hand compare equal when they say the same.
    """

    name: str
    document: str

    def __post_init__(self) -> None:
        if not _POLICY_NAME.match(self.name):
            raise ConfigError(
                f"role.inline_policies.name: got {self.name!r}; use letters, digits, +=,.@_-"
            )
        try:
            parsed = json.loads(self.document)
        except ValueError as err:
            raise ConfigError(
                f"role.inline_policies[{self.name}].document: not JSON ({err})"
            ) from None
        if not isinstance(parsed, dict) or "Statement" not in parsed:
            raise ConfigError(
                f"role.inline_policies[{self.name}].document: use a policy document "
                '({"Version": "2012-10-17", "Statement": [...]})'
            )
        normalized = json.dumps(parsed, sort_keys=True, separators=(",", ":"))
        object.__setattr__(self, "document", normalized)


@dataclass(frozen=True, kw_only=True)
class CreatedRole:
    """A role the stack manages for one function.

    It always gets an inline policy to write its own log group. `statements` become a second
    inline policy (`policy_name`, default `ROLE-access`); `managed_policy_arns` are attached.
    A VPC adds AWSLambdaENIManagementAccess and tracing adds AWSXRayDaemonWriteAccess, unless
    listed already. With adoption, the role, its attachments and the `policy_name` policy are
    imported: give the names the existing role uses.
    """

    # Empty means `FUNCTION_NAME-role`.
    name: str = ""
    managed_policy_arns: tuple[str, ...] = ()
    statements: tuple[PolicyStatement, ...] = ()
    policy_name: str = ""
    # Inline policies the role has besides the log and access ones, adopted by name.
    inline_policies: tuple[InlinePolicy, ...] = ()
    # Inline policies other modules or roots write on this role: never imported, never
    # deleted (the role resource does not claim exclusive ownership of inline policies).
    foreign_inline_policies: tuple[str, ...] = ()

    KIND: ClassVar[str] = "created"

    def __post_init__(self) -> None:
        if self.name and not _ROLE_NAME.match(self.name):
            raise ConfigError(f"role.name: got {self.name!r}; use 1-64 of letters, digits, +=,.@_-")
        if self.policy_name and not _POLICY_NAME.match(self.policy_name):
            raise ConfigError(
                f"role.policy_name: got {self.policy_name!r}; use letters, digits, +=,.@_-"
            )
        if self.policy_name and not self.statements:
            raise ConfigError("role.policy_name: names the policy holding `statements`; add them")
        for arn in self.managed_policy_arns:
            if not _POLICY_ARN.match(arn):
                raise ConfigError(
                    f"role.managed_policy_arns: {arn!r} is not a policy ARN "
                    "(arn:aws:iam::aws:policy/NAME or arn:aws:iam::ACCOUNT:policy/NAME)"
                )
        if len(set(self.managed_policy_arns)) != len(self.managed_policy_arns):
            raise ConfigError("role.managed_policy_arns: listed twice")
        sids = [s.sid for s in self.statements]
        if len(set(sids)) != len(sids):
            raise ConfigError(f"role.statements: duplicate sid in {', '.join(sids)}")
        self._check_inline_names()

    def _check_inline_names(self) -> None:
        ours = [p.name for p in self.inline_policies]
        if self.policy_name:
            ours.append(self.policy_name)
        if len(set(ours)) != len(ours):
            raise ConfigError(f"role.inline_policies: a name is used twice in {', '.join(ours)}")
        for name in self.foreign_inline_policies:
            if not _POLICY_NAME.match(name):
                raise ConfigError(f"role.foreign_inline_policies: got {name!r}; a policy name")
        shared = sorted(set(ours) & set(self.foreign_inline_policies))
        if shared:
            raise ConfigError(
                f"role.foreign_inline_policies: {', '.join(shared)} is also ours; "
                "list it in one place"
            )

    def role_name(self, function_name: str) -> str:
        return self.name or f"{function_name}-role"

    def access_policy_name(self, function_name: str) -> str:
        return self.policy_name or f"{self.role_name(function_name)}-access"

    def attachments(self, *, vpc: bool, tracing: bool) -> tuple[str, ...]:
        """Every managed policy the role gets: the listed ones, then what VPC/tracing need."""
        arns = list(self.managed_policy_arns)
        if vpc and not set(ENI_POLICIES) & set(arns):
            arns.append(ENI_MANAGEMENT_POLICY)
        if tracing and XRAY_WRITE_POLICY not in arns:
            arns.append(XRAY_WRITE_POLICY)
        if len(arns) > MAX_MANAGED_POLICIES:
            raise ConfigError(f"role.managed_policy_arns: at most {MAX_MANAGED_POLICIES} attached")
        return tuple(arns)


Role = ExistingRole | CreatedRole
