"""Provisioned concurrency on a function's alias."""

from __future__ import annotations

from constructs import Construct

from infra_constructs import _aws
from infra_constructs.lambda_function import LambdaFunction


class ProvisionedConcurrency(Construct):
    """aws_lambda_provisioned_concurrency_config on the alias: it follows the alias as
    releases move it (Lambda provisions the new version), so nothing here names a version.
    With `adopt` (the alias exists), the config that exists on it is imported."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        function: LambdaFunction,
        executions: int,
        adopt: bool,
    ) -> None:
        super().__init__(scope, id_)
        self.config = _aws.LambdaProvisionedConcurrencyConfig(
            self,
            "config",
            function_name=function.function.function_name,
            # The alias resource's name: the config needs the alias to exist first.
            qualifier=function.alias.name,
            provisioned_concurrent_executions=executions,
        )
        if adopt:
            self.config.import_from(f"{function.function_name},{function.alias_name}")
