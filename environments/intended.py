"""The words a function's `intended_changes` (and `plan-check --allow RESOURCE.WORD`) may use.

`scripts plan-check` refuses a plan that changes one of these unless the configuration (or
one run's `--allow`) says the change is intended. Plain data, importing nothing, so the
model validates `intended_changes` against the same tuple plan-check reads.
"""

from __future__ import annotations

# Function attributes whose change can take a running function down or lose its settings.
# Terraform's attribute names on aws_lambda_function.
PROTECTED_ATTRIBUTES = (
    "memory_size",
    "timeout",
    "environment",
    "vpc_config",
    "role",
    "handler",
    "runtime",
    "architectures",
    "tracing_config",
    "tags",
    "ephemeral_storage",
    "dead_letter_config",
    "reserved_concurrent_executions",
    "logging_config",
)

# Changes to what feeds or calls a function that lose messages or cut traffic: a Terraform
# attribute name where one attribute changes, the resource kind where the resource itself
# is deleted or replaced. docs/plan-check.md says what each rule refuses and why.
RISKY_CHANGES = (
    # aws_lambda_event_source_mapping
    "function_response_types",  # ReportBatchItemFailures removed: failed messages deleted
    "filter_criteria",  # a new filter: messages it leaves out are deleted unprocessed
    "enabled",  # disabled: the queue is no longer read
    "function_name",  # the queue's messages go to another function
    "event_source_mapping",  # deleted, or replaced onto another queue
    # aws_sqs_queue, aws_sqs_queue_redrive_policy
    "sqs_queue",  # deleted or replaced: the messages in it are lost
    "redrive_policy",  # no dead-letter queue: failing messages expire and are lost
    # aws_lambda_function_event_invoke_config
    "maximum_retry_attempts",  # fewer retries of a failed asynchronous event
    "maximum_event_age_in_seconds",  # asynchronous events dropped sooner
    "destination_config",  # no on-failure destination: failed events dropped
    "event_invoke_config",  # deleted: Lambda's defaults (and no destination) apply
    # aws_lambda_permission
    "permission",  # deleted or replaced: callers get 403/AccessDenied
    # aws_lambda_function_url
    "function_url",  # deleted or replaced: its URL stops answering (a new one is random)
    # aws_api_gateway_integration, aws_apigatewayv2_integration
    "uri",  # REST API (v1) calls another function
    "integration_uri",  # HTTP API (v2) calls another function
    "integration",  # deleted or replaced: the API's routes fail
    # aws_cloudwatch_event_rule, aws_cloudwatch_event_target
    "event_target",  # deleted or replaced: the schedule stops invoking
    "arn",  # the schedule invokes another function
    "event_rule",  # deleted or replaced: the schedule stops
    "state",  # disabled: the schedule stops
    # aws_lambda_alias
    "function_version",  # the alias moves outside a release
    "routing_config",  # the alias's weights move outside a release
)

INTENDED_CHANGES = PROTECTED_ATTRIBUTES + RISKY_CHANGES
