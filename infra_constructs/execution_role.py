"""A function's execution role when the stack manages it (`CreatedRole` in the configuration).

A role that exists and is managed elsewhere (`ExistingRole`) never reaches this construct:
the stack only reads its ARN, so adopting a function cannot change what its code may do.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from constructs import Construct

from environments.roles import InlinePolicy, PolicyStatement
from infra_constructs import _aws


@dataclass(frozen=True, kw_only=True)
class RoleSpec:
    """A role to manage: its names, grants and which of its parts already exist."""

    role_name: str
    logs_policy_name: str
    access_policy_name: str = ""
    statements: Sequence[PolicyStatement] = ()
    managed_policy_arns: Sequence[str] = ()
    tags: Mapping[str, str] = field(default_factory=dict)
    # Adoption: the role exists; so do these attachments and (when True) the access policy.
    adopt: bool = False
    adopt_attachments: Sequence[str] = ()
    adopt_access_policy: bool = False
    # Inline policies the role has besides ours, adopted by name (imported with `adopt`).
    inline_policies: Sequence[InlinePolicy] = ()

    def __post_init__(self) -> None:
        ours = {self.logs_policy_name, self.access_policy_name}
        clash = sorted(p.name for p in self.inline_policies if p.name in ours)
        if clash:
            raise ValueError(
                f"role.inline_policies: {', '.join(clash)} is the name of the stack's own "
                "log or access policy; give the access policy's statements there instead"
            )
        if self.statements and not self.access_policy_name:
            raise ValueError("access_policy_name: required with statements")
        stray = sorted(set(self.adopt_attachments) - set(self.managed_policy_arns))
        if stray:
            raise ValueError(f"adopt_attachments: {', '.join(stray)} not in managed_policy_arns")


class ExecutionRole(Construct):
    """The role, an inline policy to write `log_group_arn`, the function's own statements as a
    second inline policy, and managed-policy attachments.

    With `spec.adopt`, the role, the attachments in `adopt_attachments`, the access policy
    (when `adopt_access_policy`) and each of `inline_policies` are imported instead of
    created; the log policy is new.

    The role resource never sets `inline_policy`: unset, the provider leaves inline
    policies it was not told about alone, so those other modules or roots write on the
    role (CreatedRole.foreign_inline_policies) are neither imported nor deleted; one
    `inline_policy {}` block would make every apply delete them.
    """

    def __init__(self, scope: Construct, id_: str, *, spec: RoleSpec, log_group_arn: str) -> None:
        super().__init__(scope, id_)
        role_name = spec.role_name
        adopt = spec.adopt
        statement = _aws.DataAwsIamPolicyDocumentStatement
        assume_role = _aws.DataAwsIamPolicyDocument(
            self,
            "assume_role",
            statement=[
                statement(
                    effect="Allow",
                    actions=["sts:AssumeRole"],
                    principals=[
                        _aws.DataAwsIamPolicyDocumentStatementPrincipals(
                            type="Service", identifiers=["lambda.amazonaws.com"]
                        )
                    ],
                )
            ],
        )
        self.role = _aws.IamRole(
            self,
            "role",
            name=role_name,
            assume_role_policy=assume_role.json,
            tags=dict(spec.tags) or None,
        )
        if adopt:
            self.role.import_from(role_name)
        self.role_name: str = role_name
        self.arn: str = self.role.arn

        # Least privilege: write to its own log group only. Lambda creates no log group
        # (logs:CreateLogGroup is not granted); Terraform made it, or it exists.
        logging = _aws.DataAwsIamPolicyDocument(
            self,
            "logging",
            statement=[
                statement(
                    sid="WriteOwnLogGroup",
                    effect="Allow",
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[f"{log_group_arn}:*"],
                )
            ],
        )
        self.logs_policy = _aws.IamRolePolicy(
            self,
            "logging_policy",
            name=spec.logs_policy_name,
            role=self.role.id,
            policy=logging.json,
        )
        # Everything the function needs before it can run with this role.
        self.dependables: list[object] = [self.logs_policy]

        if spec.statements:
            access = _aws.DataAwsIamPolicyDocument(
                self,
                "access",
                statement=[
                    statement(
                        sid=s.sid,
                        effect=s.effect,
                        actions=list(s.actions),
                        resources=list(s.resources),
                    )
                    for s in spec.statements
                ],
            )
            access_policy = _aws.IamRolePolicy(
                self,
                "access_policy",
                name=spec.access_policy_name,
                role=self.role.id,
                policy=access.json,
            )
            if adopt and spec.adopt_access_policy:
                access_policy.import_from(f"{role_name}:{spec.access_policy_name}")
            self.dependables.append(access_policy)

        for inline in spec.inline_policies:
            adopted = _aws.IamRolePolicy(
                self,
                f"inline_{_slug(inline.name)}",
                name=inline.name,
                role=self.role.id,
                policy=inline.document,
            )
            if adopt:
                adopted.import_from(f"{role_name}:{inline.name}")
            self.dependables.append(adopted)

        for policy_arn in spec.managed_policy_arns:
            attachment = _aws.IamRolePolicyAttachment(
                self, _attachment_id(policy_arn), role=self.role.name, policy_arn=policy_arn
            )
            if adopt and policy_arn in spec.adopt_attachments:
                attachment.import_from(f"{role_name}/{policy_arn}")
            self.dependables.append(attachment)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")


def _attachment_id(policy_arn: str) -> str:
    """Named after the policy, not its position: reordering the list must not replace one."""
    owner = "aws" if ":iam::aws:policy/" in policy_arn else "account"
    return f"attachment_{owner}_{policy_arn.rsplit('/', 1)[-1]}"
