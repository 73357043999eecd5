"""The design's `modules/lambda-layer`: the environment's shared dependencies layer."""

from __future__ import annotations

from collections.abc import Sequence

from cdktf import TerraformResourceLifecycle
from constructs import Construct

from infra_constructs import _aws


class LambdaLayer(Construct):
    """The first version of `layer_name`, published by Terraform from `s3_key`.

    Terraform owns only this first version. Later versions are published by
    `scripts/ deploy` from content-addressed keys and attached to the functions directly, so
    Terraform must neither replace this version when the key changes nor delete it on
    destroy: a retained version is a rollback target (design, "Rollback Strategy").
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        layer_name: str,
        description: str,
        compatible_runtimes: Sequence[str],
        compatible_architectures: Sequence[str],
        s3_bucket: str,
        s3_key: str,
    ) -> None:
        super().__init__(scope, id_)
        if not compatible_runtimes:
            raise ValueError("compatible_runtimes: at least one runtime is required")
        self.layer_name: str = layer_name
        self.layer_version = _aws.LambdaLayerVersion(
            self,
            "layer_version",
            layer_name=layer_name,
            description=description,
            compatible_runtimes=list(compatible_runtimes),
            compatible_architectures=list(compatible_architectures),
            s3_bucket=s3_bucket,
            s3_key=s3_key,
            # Layer versions are immutable and kept indefinitely: a replaced or destroyed
            # resource must leave the published version in place for rollbacks.
            skip_destroy=True,
            lifecycle=TerraformResourceLifecycle(
                ignore_changes=[
                    # s3_key: later versions come from content-addressed keys published by
                    # scripts/ deploy; a changed key must not make Terraform publish again.
                    "s3_key",
                ],
            ),
        )
        # The ARN with the version number: what a function's `layers` list takes.
        self.version_arn: str = self.layer_version.arn
        # The ARN without a version: what IAM policies on the layer's versions scope to.
        self.layer_arn: str = self.layer_version.layer_arn
