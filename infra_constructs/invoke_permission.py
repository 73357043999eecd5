"""Another service or account invoking a function's alias (API Gateway for the API)."""

from __future__ import annotations

from constructs import Construct

from infra_constructs import _aws
from infra_constructs.lambda_function import LambdaFunction


class InvokePermission(Construct):
    """`lambda:InvokeFunction` on the alias for `principal`, from `source_arn` when given.

    With `adopt`, the statement that already exists on the alias is imported.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        function: LambdaFunction,
        principal: str,
        statement_id: str,
        source_arn: str | None,
        adopt: bool,
    ) -> None:
        super().__init__(scope, id_)
        self.permission = _aws.LambdaPermission(
            self,
            "permission",
            statement_id=statement_id,
            action="lambda:InvokeFunction",
            function_name=function.function_name,
            # The alias resource, not its name: the alias must exist before its permission.
            qualifier=function.alias.name,
            principal=principal,
            source_arn=source_arn,
        )
        if adopt:
            self.permission.import_from(
                f"{function.function_name}:{function.alias_name}/{statement_id}"
            )
