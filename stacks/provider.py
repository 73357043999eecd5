"""The stack's AWS provider (region, default_tags, a local endpoint's settings) and its state
backend: what every environment's stack configures before its resources."""

from __future__ import annotations

from cdktf import LocalBackend, S3Backend, TerraformStack

from environments import Environment
from infra_constructs import _aws


def configure_provider(stack: TerraformStack, env: Environment) -> None:
    # The bindings pin the provider they were generated for (hashicorp/aws 6.25.0); an
    # environment whose state 5.x wrote, or the offline mirror's 5.100, says so. Every
    # attribute this stack sets exists in both. No typed setter exists, hence the override.
    stack.add_override("terraform.required_providers.aws.version", env.provider_version)
    # On every resource that takes tags, as the root that built the estate set them.
    default_tags = (
        [_aws.AwsProviderDefaultTags(tags=dict(env.default_tags))] if env.default_tags else None
    )
    if env.endpoint_url is None:
        _aws.AwsProvider(stack, "aws", region=env.region, default_tags=default_tags)
        return
    url = env.endpoint_url
    # A local AWS (moto): test credentials, path-style S3 (no bucket DNS names on
    # 127.0.0.1) and none of the checks that need real AWS (STS account lookup, EC2
    # metadata, the provider's list of known regions).
    _aws.AwsProvider(
        stack,
        "aws",
        region=env.region,
        access_key="test",
        secret_key="test",  # noqa: S106 - moto's fixed dummy credential
        s3_use_path_style=True,
        skip_credentials_validation=True,
        skip_requesting_account_id=True,
        skip_metadata_api_check="true",
        skip_region_validation=True,
        default_tags=default_tags,
        endpoints=[
            # Every service this stack and the scripts call.
            _aws.AwsProviderEndpoints(
                cloudwatch=url,
                ec2=url,
                events=url,
                iam=url,
                lambda_=url,
                logs=url,
                s3=url,
                sqs=url,
                sts=url,
            )
        ],
    )


def configure_backend(
    stack: TerraformStack, env: Environment, *, stack_id: str, local_state_path: str | None
) -> None:
    backend = env.state_backend
    if backend is None:
        # Relative to the stack's synthesized directory, where terraform runs.
        LocalBackend(stack, path=local_state_path or f"terraform.{stack_id}.tfstate")
        return
    S3Backend(
        stack,
        bucket=backend.bucket,
        key=backend.key,
        region=backend.region,
        encrypt=True,
        dynamodb_table=backend.dynamodb_table,
    )
    if backend.use_lockfile:
        # S3-native locking (Terraform >= 1.10); cdktf 0.21's S3Backend predates it.
        stack.add_override("terraform.backend.s3.use_lockfile", True)
