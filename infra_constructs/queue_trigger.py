"""An SQS queue invoking a function's alias (the eval-runbook-worker's trigger)."""

from __future__ import annotations

from constructs import Construct

from infra_constructs import _aws
from infra_constructs.lambda_function import LambdaFunction


class QueueTrigger(Construct):
    """An event source mapping from `queue_arn` to the function's alias.

    An existing mapping (`existing_uuid`, with adoption) is imported and re-pointed in place:
    Lambda updates a mapping's function, so the queue is never read by two mappings.
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
        import_uuid: str | None = None,
    ) -> None:
        super().__init__(scope, id_)
        self.mapping = _aws.LambdaEventSourceMapping(
            self,
            "mapping",
            event_source_arn=queue_arn,
            function_name=function.alias_arn,
            batch_size=batch_size,
            # Unset means Lambda's default (no window); only a window that is wanted is said.
            maximum_batching_window_in_seconds=batching_window_s or None,
        )
        if import_uuid is not None:
            self.mapping.import_from(import_uuid)
        self.uuid: str = self.mapping.uuid
