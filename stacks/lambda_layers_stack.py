"""One environment's Lambda layer, functions and CI deployer policy."""

from __future__ import annotations

from cdktf import LocalBackend, S3Backend, TerraformOutput, TerraformStack
from constructs import Construct

import artifacts
from environments import Environment
from infra_constructs import _aws
from infra_constructs.deployer_policy import DeployerPolicy
from infra_constructs.lambda_function import LambdaFunction
from infra_constructs.lambda_layer import LambdaLayer

# Long enough to debug a release, short enough not to keep every log line forever.
DEFAULT_LOG_RETENTION_DAYS = 30


class LambdaLayersStack(TerraformStack):
    """The design's "Terraform Changes" for one environment.

    `cdktf deploy ENV` creates the layer's first version, the four functions wired to it,
    their log groups and roles, and the deployer policy; `scripts/ deploy` moves code and
    layer versions afterwards without Terraform seeing drift.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        environment: Environment,
        local_state_path: str | None = None,
        log_retention_days: int = DEFAULT_LOG_RETENTION_DAYS,
    ) -> None:
        super().__init__(scope, id_)
        env = environment
        self.environment: Environment = env
        self._configure_provider(env)
        self._configure_backend(env, stack_id=id_, local_state_path=local_state_path)

        # The frontend bucket already exists (managed elsewhere): read it, never create it.
        self.artifact_bucket = _aws.DataAwsS3Bucket(
            self, "artifact_bucket", bucket=env.artifact_bucket
        )

        self.layer = LambdaLayer(
            self,
            "deps_layer",
            layer_name=env.layer_name,
            description=f"Python dependencies shared by the {env.name_prefix}-{env.name} functions",
            compatible_runtimes=[env.runtime],
            compatible_architectures=[env.architecture],
            s3_bucket=self.artifact_bucket.id,
            s3_key=f"{env.key_prefix}{artifacts.LAYER_LATEST}",
        )

        self.functions: dict[str, LambdaFunction] = {}
        for config in env.functions:
            self.functions[config.name] = LambdaFunction(
                self,
                f"function_{config.name.replace('-', '_')}",
                function_name=env.function_name(config.name),
                description=config.description,
                handler=config.handler,
                runtime=env.runtime,
                architecture=env.architecture,
                memory_mb=config.memory_mb,
                timeout_s=config.timeout_s,
                environment=config.environment,
                s3_bucket=self.artifact_bucket.id,
                s3_key=f"{env.key_prefix}{artifacts.PACKAGE_LATEST}",
                layers=[self.layer.version_arn, *config.extra_layers],
                log_retention_days=log_retention_days,
            )

        self.deployer_policy = DeployerPolicy(
            self,
            "deployer_policy",
            policy_name=f"{env.name_prefix}-{env.name}-lambda-deployer",
            layer_arn=self.layer.layer_arn,
            function_arns=[f.function_arn for f in self.functions.values()],
            bucket_arn=self.artifact_bucket.arn,
            key_prefix=env.key_prefix,
            ci_role_name=env.ci_role_name,
        )

        TerraformOutput(
            self,
            "layer_version_arn",
            value=self.layer.version_arn,
            description="The deps layer version Terraform published (later ones come from CI)",
        )
        TerraformOutput(self, "layer_arn", value=self.layer.layer_arn)
        TerraformOutput(
            self, "function_names", value=[f.function_name for f in self.functions.values()]
        )
        TerraformOutput(self, "artifact_bucket_name", value=self.artifact_bucket.id)
        TerraformOutput(self, "deployer_policy_arn", value=self.deployer_policy.policy_arn)

    def _configure_provider(self, env: Environment) -> None:
        if env.endpoint_url is None:
            _aws.AwsProvider(self, "aws", region=env.region)
            return
        url = env.endpoint_url
        # A local AWS (moto): test credentials, path-style S3 (no bucket DNS names on
        # 127.0.0.1) and none of the checks that need real AWS (STS account lookup, EC2
        # metadata, the provider's list of known regions).
        _aws.AwsProvider(
            self,
            "aws",
            region=env.region,
            access_key="test",
            secret_key="test",  # noqa: S106 - moto's fixed dummy credential
            s3_use_path_style=True,
            skip_credentials_validation=True,
            skip_requesting_account_id=True,
            skip_metadata_api_check="true",
            skip_region_validation=True,
            endpoints=[
                # Every service this stack and the scripts call.
                _aws.AwsProviderEndpoints(lambda_=url, s3=url, iam=url, sts=url, logs=url)
            ],
        )
        if env.provider_version is not None:
            # The bindings pin the provider they were generated for (hashicorp/aws 6.25.0);
            # the offline mirror holds 5.100.x and every attribute here exists in both. No
            # typed setter exists for the constraint, hence the override.
            self.add_override("terraform.required_providers.aws.version", env.provider_version)

    def _configure_backend(
        self, env: Environment, *, stack_id: str, local_state_path: str | None
    ) -> None:
        backend = env.state_backend
        if backend is None:
            # Relative to the stack's synthesized directory, where terraform runs.
            LocalBackend(self, path=local_state_path or f"terraform.{stack_id}.tfstate")
            return
        S3Backend(
            self,
            bucket=backend.bucket,
            key=backend.key,
            region=backend.region,
            encrypt=True,
            dynamodb_table=backend.dynamodb_table,
        )
        if backend.use_lockfile:
            # S3-native locking (Terraform >= 1.10); cdktf 0.21's S3Backend predates it.
            self.add_override("terraform.backend.s3.use_lockfile", True)
