"""The design's `modules/lambda` and `modules/cleanup-lambda`: one backend entry point.

Every function runs the same package (`lambda/backend.zip`) with its own handler, so the
four functions differ only in the inputs below.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from cdktf import TerraformResourceLifecycle
from constructs import Construct

from infra_constructs import _aws

# Lambda's own limit on the layers one function references.
MAX_LAYERS = 5


class LambdaFunction(Construct):
    """A function from the artifact bucket, with its own log group and execution role.

    Terraform creates the function and owns its configuration (handler, memory, timeout,
    environment). The code and the attached layers are deployed by `scripts/ deploy`
    afterwards, so those attributes are ignored here; see `ignore_changes` below.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        function_name: str,
        description: str,
        handler: str,
        runtime: str,
        architecture: str,
        memory_mb: int,
        timeout_s: int,
        environment: Mapping[str, str],
        s3_bucket: str,
        s3_key: str,
        layers: Sequence[str],
        log_retention_days: int,
    ) -> None:
        super().__init__(scope, id_)
        if len(layers) > MAX_LAYERS:
            raise ValueError(f"layers: at most {MAX_LAYERS}, got {len(layers)}")
        self.function_name: str = function_name

        # Created before the function so Lambda does not create it first without retention.
        self.log_group = _aws.CloudwatchLogGroup(
            self,
            "log_group",
            name=f"/aws/lambda/{function_name}",
            retention_in_days=log_retention_days,
        )

        assume_role = _aws.DataAwsIamPolicyDocument(
            self,
            "assume_role",
            statement=[
                _aws.DataAwsIamPolicyDocumentStatement(
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
            name=f"{function_name}-role",
            assume_role_policy=assume_role.json,
        )
        # Least privilege: write to its own log group only. Lambda creates no log group
        # (logs:CreateLogGroup is not granted); Terraform made it above.
        logging = _aws.DataAwsIamPolicyDocument(
            self,
            "logging",
            statement=[
                _aws.DataAwsIamPolicyDocumentStatement(
                    sid="WriteOwnLogGroup",
                    effect="Allow",
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[f"{self.log_group.arn}:*"],
                )
            ],
        )
        self.role_policy = _aws.IamRolePolicy(
            self,
            "logging_policy",
            name=f"{function_name}-logs",
            role=self.role.id,
            policy=logging.json,
        )

        self.function = _aws.LambdaFunction(
            self,
            "function",
            function_name=function_name,
            description=description,
            role=self.role.arn,
            handler=handler,
            runtime=runtime,
            architectures=[architecture],
            memory_size=memory_mb,
            timeout=timeout_s,
            s3_bucket=s3_bucket,
            # Not refreshed from AWS (the provider's read never sets s3_key), so a deploy from
            # a content-addressed key shows no drift while this stays the mutable key.
            s3_key=s3_key,
            layers=list(layers),
            environment=(
                _aws.LambdaFunctionEnvironment(variables=dict(environment)) if environment else None
            ),
            depends_on=[self.log_group, self.role_policy],
            lifecycle=TerraformResourceLifecycle(
                ignore_changes=[
                    # filename: never set here; code arrives from S3 via scripts/ deploy.
                    "filename",
                    # source_code_hash: scripts/ deploy updates the code
                    # (update-function-code from lambda/backend-HASH.zip).
                    "source_code_hash",
                    # layers: scripts/ deploy attaches each new deps layer version
                    # (update-function-configuration); rollback re-attaches older ones.
                    "layers",
                ],
            ),
        )
        self.function_arn: str = self.function.arn
        self.log_group_arn: str = self.log_group.arn
        self.role_arn: str = self.role.arn
