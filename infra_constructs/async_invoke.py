"""A function's asynchronous invocation settings: retries, event age, destinations."""

from __future__ import annotations

from constructs import Construct

from environments.callers import AsyncInvoke
from infra_constructs import _aws
from infra_constructs.lambda_function import LambdaFunction


class AsyncInvokeConfig(Construct):
    """aws_lambda_function_event_invoke_config on the unqualified function, which is where
    an estate that never used an alias has it (and where an alias without its own config
    takes it from). With `adopt`, the config that exists is imported; dropping its retries
    or its failure destination would lose the events that fail."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        function: LambdaFunction,
        settings: AsyncInvoke,
        adopt: bool,
    ) -> None:
        super().__init__(scope, id_)
        on_failure, on_success = settings.on_failure_arn, settings.on_success_arn
        destinations = (
            _aws.LambdaFunctionEventInvokeConfigDestinationConfig(
                on_failure=(
                    _aws.LambdaFunctionEventInvokeConfigDestinationConfigOnFailure(
                        destination=on_failure
                    )
                    if on_failure
                    else None
                ),
                on_success=(
                    _aws.LambdaFunctionEventInvokeConfigDestinationConfigOnSuccess(
                        destination=on_success
                    )
                    if on_success
                    else None
                ),
            )
            if on_failure or on_success
            else None
        )
        self.config = _aws.LambdaFunctionEventInvokeConfig(
            self,
            "config",
            function_name=function.function.function_name,
            maximum_retry_attempts=settings.maximum_retry_attempts,
            maximum_event_age_in_seconds=settings.maximum_event_age_s,
            destination_config=destinations,
        )
        if adopt:
            self.config.import_from(function.function_name)
