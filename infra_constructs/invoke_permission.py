"""Another service or account invoking a function (API Gateway for the API)."""

from __future__ import annotations

from constructs import Construct

from infra_constructs import _aws
from infra_constructs.lambda_function import LambdaFunction


class InvokePermission(Construct):
    """`lambda:InvokeFunction` for `principal`, from `source_arn` when given: on the alias,
    or with `target="function"` on the unqualified function (a permission adopted as it is
    while its caller still invokes the function).

    With `adopt`, the statement that already exists there is imported.
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
        target: str = "alias",
    ) -> None:
        super().__init__(scope, id_)
        on_alias = target == "alias"
        self.permission = _aws.LambdaPermission(
            self,
            "permission",
            statement_id=statement_id,
            action="lambda:InvokeFunction",
            function_name=function.function_name,
            # The alias resource, not its name: the alias must exist before its permission.
            qualifier=function.alias.name if on_alias else None,
            principal=principal,
            source_arn=source_arn,
        )
        if adopt:
            qualified = f"{function.function_name}:{function.alias_name}" if on_alias else None
            self.permission.import_from(f"{qualified or function.function_name}/{statement_id}")
