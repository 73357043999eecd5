"""The CI deployer's IAM policy: what `scripts/ deploy`, rollback and prune may touch.

It replaces the hand-made policy (design, migration phase 4). Every statement is scoped to
one environment's layer, functions and artifact prefix, so a staging credential cannot
publish to, or update, anything in prod.
"""

from __future__ import annotations

from collections.abc import Sequence

from constructs import Construct

from infra_constructs import _aws

LAYER_ACTIONS = (
    "lambda:PublishLayerVersion",
    "lambda:ListLayerVersions",
    "lambda:GetLayerVersion",
    "lambda:DeleteLayerVersion",
)
FUNCTION_ACTIONS = (
    "lambda:GetFunction",
    "lambda:GetFunctionConfiguration",
    "lambda:UpdateFunctionCode",
    "lambda:UpdateFunctionConfiguration",
)
OBJECT_ACTIONS = ("s3:GetObject", "s3:PutObject")


class DeployerPolicy(Construct):
    """A managed policy for the CI role, attached to it when `ci_role_name` is given."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        policy_name: str,
        layer_arn: str,
        function_arns: Sequence[str],
        bucket_arn: str,
        key_prefix: str,
        ci_role_name: str | None,
    ) -> None:
        super().__init__(scope, id_)
        if not function_arns:
            raise ValueError("function_arns: at least one function is required")
        if not key_prefix.endswith("/"):
            raise ValueError(f"key_prefix: got {key_prefix!r}; use a prefix ending in '/'")
        statement = _aws.DataAwsIamPolicyDocumentStatement
        document = _aws.DataAwsIamPolicyDocument(
            self,
            "document",
            statement=[
                statement(
                    sid="LayerVersions",
                    effect="Allow",
                    actions=list(LAYER_ACTIONS),
                    # The layer itself (publish, list) and its numbered versions (get, delete).
                    resources=[layer_arn, f"{layer_arn}:*"],
                ),
                statement(
                    sid="FunctionCodeAndConfiguration",
                    effect="Allow",
                    actions=list(FUNCTION_ACTIONS),
                    resources=list(function_arns),
                ),
                statement(
                    sid="ArtifactObjects",
                    effect="Allow",
                    actions=list(OBJECT_ACTIONS),
                    resources=[f"{bucket_arn}/{key_prefix}*"],
                ),
                statement(
                    sid="ArtifactListing",
                    effect="Allow",
                    actions=["s3:ListBucket"],
                    resources=[bucket_arn],
                    condition=[
                        _aws.DataAwsIamPolicyDocumentStatementCondition(
                            test="StringLike",
                            variable="s3:prefix",
                            values=[f"{key_prefix}*"],
                        )
                    ],
                ),
            ],
        )
        self.policy = _aws.IamPolicy(
            self,
            "policy",
            name=policy_name,
            description="CI deployer: publish layer versions and update function code/layers",
            policy=document.json,
        )
        self.policy_arn: str = self.policy.arn
        self.attachment = (
            _aws.IamRolePolicyAttachment(
                self, "attachment", role=ci_role_name, policy_arn=self.policy.arn
            )
            if ci_role_name
            else None
        )
