"""An SQS queue invoking a function (its alias, or while adopted as it runs, the function)."""

from __future__ import annotations

from collections.abc import Sequence

from constructs import Construct

from infra_constructs import _aws
from infra_constructs.lambda_function import LambdaFunction


class QueueTrigger(Construct):
    """An event source mapping from `queue_arn` to the function's alias (or, with
    `target="function"`, the unqualified function: an adopted mapping kept as it runs until
    migrate's callers phase moves it).

    An existing mapping (`existing_uuid`, with adoption) is imported and keeps every setting
    it has: `function_response_types` above all, since a mapping without
    ReportBatchItemFailures takes a batch with one failed message as done and the queue
    deletes that message.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        queue_arn: str,
        function: LambdaFunction,
        batch_size: int,
        batching_window_s: int = 0,
        function_response_types: Sequence[str] = (),
        maximum_concurrency: int | None = None,
        filter_patterns: Sequence[str] = (),
        enabled: bool = True,
        target: str = "alias",
        import_uuid: str | None = None,
    ) -> None:
        super().__init__(scope, id_)
        self.mapping = _aws.LambdaEventSourceMapping(
            self,
            "mapping",
            event_source_arn=queue_arn,
            function_name=function.alias_arn if target == "alias" else function.function_arn,
            batch_size=batch_size,
            # Unset means Lambda's default (no window); only a window that is wanted is said.
            maximum_batching_window_in_seconds=batching_window_s or None,
            function_response_types=list(function_response_types) or None,
            scaling_config=(
                _aws.LambdaEventSourceMappingScalingConfig(maximum_concurrency=maximum_concurrency)
                if maximum_concurrency is not None
                else None
            ),
            filter_criteria=(
                _aws.LambdaEventSourceMappingFilterCriteria(
                    filter=[
                        _aws.LambdaEventSourceMappingFilterCriteriaFilter(pattern=pattern)
                        for pattern in filter_patterns
                    ]
                )
                if filter_patterns
                else None
            ),
            # Said only when off: true is the provider's default, and a paused mapping
            # must stay paused through adoption.
            enabled=None if enabled else False,
        )
        if import_uuid is not None:
            self.mapping.import_from(import_uuid)
        self.uuid: str = self.mapping.uuid
