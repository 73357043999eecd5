"""A schedule invoking a function's alias (the nightly cleanup's trigger), or while adopted as
it runs, the unqualified function."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from constructs import Construct

from infra_constructs import _aws
from infra_constructs.lambda_function import LambdaFunction


class Schedule(Construct):
    """An EventBridge rule, its target (the alias) and the permission letting it invoke.

    With `adopt`, the rule and the target `target_id` are imported and the target is moved to
    the alias in place. The permission is always created on the alias: one that exists on
    the bare function cannot be re-qualified in place (every permission argument forces a
    replacement), and leaving it keeps the schedule working until the alias one exists.

    With `target="function"` the target keeps invoking the unqualified function and no
    permission is made here: the one that exists on the function is the configuration's
    own `InvokePermission(target="function")`, adopted as it is. `input` is the JSON the
    target sends instead of the event.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        rule_name: str,
        expression: str,
        description: str,
        target_id: str,
        function: LambdaFunction,
        statement_id: str,
        tags: Mapping[str, str],
        adopt: bool,
        input_json: str | None = None,
        target: str = "alias",
    ) -> None:
        super().__init__(scope, id_)
        self.rule = _aws.CloudwatchEventRule(
            self,
            "rule",
            name=rule_name,
            schedule_expression=expression,
            description=description or None,
            tags=dict(tags) or None,
        )
        self.target = _aws.CloudwatchEventTarget(
            self,
            "target",
            rule=self.rule.name,
            target_id=target_id,
            arn=function.alias_arn if target == "alias" else function.function_arn,
            input=input_json,
        )
        if adopt:
            self.rule.import_from(rule_name)
            self.target.import_from(f"{rule_name}/{target_id}")
        self.permission: Any = None
        if target != "alias":
            return
        self.permission = _aws.LambdaPermission(
            self,
            "permission",
            statement_id=statement_id,
            action="lambda:InvokeFunction",
            function_name=function.function_name,
            qualifier=function.alias.name,
            principal="events.amazonaws.com",
            source_arn=self.rule.arn,
        )
