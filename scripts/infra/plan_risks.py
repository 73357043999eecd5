"""What in a plan loses messages or cuts a function's traffic: one rule per resource type.

Each rule reads one resource change of `terraform show -json` and says, in plain words, what
the change would do to the messages that feed a function or to the callers that reach it.
plan_check.evaluate refuses every risk found unless the function's `intended_changes` or a
`--allow` names its word (environments/intended.py: RISKY_CHANGES). The rules, and what they
leave alone on purpose, are listed in docs/plan-check.md.

A change that moves a caller or a queue from a function to one of its own aliases (or back)
is safe by rule: that is what `migrate` does. A change whose new target is only known after
apply is followed through the plan's `configuration` references to the alias or function
it names; what cannot be followed is refused, since a plan cannot show it is safe.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence

from scripts.infra import risks_callers as callers
from scripts.infra import risks_messages as messages
from scripts.infra.plan_parse import Change
from scripts.infra.plan_values import PlanIndex, Risk, name_of, queue_name

RULES: Mapping[str, Callable[[Change, PlanIndex], Iterator[tuple[str, str]]]] = {
    "aws_lambda_event_source_mapping": messages.mapping,
    "aws_sqs_queue": messages.queue,
    "aws_sqs_queue_redrive_policy": messages.redrive_resource,
    "aws_lambda_function_event_invoke_config": messages.invoke_config,
    "aws_lambda_permission": callers.permission,
    "aws_lambda_function_url": callers.function_url,
    "aws_api_gateway_integration": callers.integration("uri"),
    "aws_apigatewayv2_integration": callers.integration("integration_uri"),
    "aws_cloudwatch_event_target": callers.event_target,
    "aws_cloudwatch_event_rule": callers.event_rule,
    "aws_lambda_alias": callers.alias,
}


def _owners(change: Change, index: PlanIndex) -> tuple[str, ...]:
    """The functions a change concerns, for `intended_changes`."""
    values = change.before or change.after
    if change.type in ("aws_sqs_queue", "aws_sqs_queue_redrive_policy"):
        queue = queue_name(values.get("name") or values.get("queue_url"))
        return tuple(f for f in index.queue_readers.get(queue, ()) if f)
    if change.type == "aws_cloudwatch_event_rule":
        return tuple(f for f in index.rule_targets.get(str(values.get("name", "")), ()) if f)
    for key in ("function_name", "arn", "uri", "integration_uri"):
        if name := name_of(values.get(key)):
            return (name,)
    return ()


def risks(changes: Sequence[Change], index: PlanIndex) -> list[tuple[Risk, tuple[str, ...]]]:
    """Every risk in the plan, with the functions whose configuration may intend it."""
    found = []
    for change in changes:
        rule = RULES.get(change.type)
        # A forget leaves the resource running as it is: nothing is lost.
        if rule is None or change.action in ("no-op", "create", "forget", "create+forget"):
            continue
        owners = _owners(change, index)
        for word, effect in rule(change, index):
            risk = Risk(
                address=change.address,
                function=owners[0] if owners else "",
                word=word,
                effect=effect,
            )
            found.append((risk, owners))
    return found
