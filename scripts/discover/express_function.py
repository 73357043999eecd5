"""One function's facts as configuration: its settings, role, triggers and callers.

Anything the model cannot say is a `Gap` naming the resource and the attribute, never a
silent approximation: a file that drops a setting would be adopted as a change.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from environments.callers import AsyncInvoke, ExternalCaller, ExternalCallerKind
from environments.network import VpcConfig
from environments.roles import CreatedRole, ExistingRole, InlinePolicy, Role
from environments.triggers import (
    CallerTarget,
    InvokePermission,
    ScheduleTrigger,
    SqsTrigger,
    Trigger,
)
from scripts.discover.facts import FunctionFacts, Gap, RoleFacts, qualifier_of

# Settings a function may have that the configuration has no field for.
UNEXPRESSIBLE = {
    "KMSKeyArn": "a customer-managed key for environment variables",
    "FileSystemConfigs": "an EFS file system",
    "ImageConfigResponse": "an image configuration",
    "SigningProfileVersionArn": "code signing",
}


@dataclass
class Expressed:
    """What one function's facts became, and what could not be said."""

    gaps: list[Gap] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def gap(self, resource: str, attribute: str, reason: str) -> None:
        self.gaps.append(Gap(resource=resource, attribute=attribute, reason=reason))


def target_of(qualifier: str | None, alias: str, out: Expressed, where: str) -> CallerTarget:
    """ "function" when unqualified, "alias" for the alias; a version is a gap."""
    if qualifier is None:
        return "function"
    if qualifier == alias:
        return "alias"
    out.gap(where, "qualifier", f"invokes {qualifier!r}; only the alias {alias!r} or the function")
    return "function"


def unexpressible(facts: FunctionFacts, out: Expressed) -> None:
    where = f"function {facts.name}"
    config = facts.configuration
    for key, what in UNEXPRESSIBLE.items():
        if config.get(key):
            out.gap(where, key, f"{what} is set; the configuration cannot say it")
    if (config.get("SnapStart") or {}).get("ApplyOn", "None") != "None":
        out.gap(where, "SnapStart", "SnapStart is on; the configuration cannot say it")
    logging = config.get("LoggingConfig") or {}
    if logging.get("LogFormat", "Text") != "Text":
        out.gap(where, "LoggingConfig.LogFormat", f"{logging['LogFormat']}; only Text")


def role_of(facts: FunctionFacts, out: Expressed) -> tuple[Role, bool]:
    """The role, and whether the stack adopts it (a CreatedRole) or references it."""
    role = facts.role
    arn = str(facts.configuration.get("Role", ""))
    if role is None or not _ours(role, facts.name):
        return ExistingRole(role=arn), False
    return (
        CreatedRole(
            name=role.name,
            managed_policy_arns=role.attached,
            inline_policies=tuple(
                InlinePolicy(name=n, document=d) for n, d in sorted(role.inline.items())
            ),
        ),
        True,
    )


def _ours(role: RoleFacts, function: str) -> bool:
    """A role only this function uses and only Lambda assumes: the stack may manage it."""
    return (
        role.used_by == (function,)
        and role.path == "/"
        and "lambda.amazonaws.com" in role.assume_role_document
    )


def vpc_of(config: Mapping[str, Any]) -> VpcConfig | None:
    vpc = config.get("VpcConfig") or {}
    if not vpc.get("SubnetIds"):
        return None
    return VpcConfig(
        subnet_ids=tuple(vpc["SubnetIds"]), security_group_ids=tuple(vpc["SecurityGroupIds"])
    )


def sqs_triggers(facts: FunctionFacts, alias: str, out: Expressed) -> list[Trigger]:
    found: list[Trigger] = []
    for mapping in facts.mappings:
        where = f"event source mapping {mapping['UUID']}"
        source = str(mapping.get("EventSourceArn", ""))
        if ":sqs:" not in source:
            out.gap(where, "EventSourceArn", f"{source}: only SQS sources can be said")
            continue
        for key in ("DestinationConfig", "MaximumRetryAttempts", "DocumentDBEventSourceConfig"):
            if mapping.get(key) and key != "DestinationConfig":
                out.gap(where, key, "set; the configuration cannot say it")
        filters = (mapping.get("FilterCriteria") or {}).get("Filters") or []
        try:
            found.append(
                SqsTrigger(
                    queue_arn=source,
                    batch_size=int(mapping.get("BatchSize", 10)),
                    batching_window_s=int(mapping.get("MaximumBatchingWindowInSeconds") or 0),
                    existing_uuid=str(mapping["UUID"]),
                    function_response_types=tuple(mapping.get("FunctionResponseTypes") or ()),
                    maximum_concurrency=(mapping.get("ScalingConfig") or {}).get(
                        "MaximumConcurrency"
                    ),
                    filter_patterns=tuple(str(f["Pattern"]) for f in filters),
                    enabled=mapping.get("State") not in ("Disabled", "Disabling"),
                    target=target_of(qualifier_of(str(mapping["FunctionArn"])), alias, out, where),
                )
            )
        except ValueError as err:
            out.gap(where, "settings", str(err))
    return found


def schedule_triggers(facts: FunctionFacts, alias: str, out: Expressed) -> list[Trigger]:
    found: list[Trigger] = []
    for pair in facts.rule_targets:
        rule, target = pair.rule, pair.target
        where = f"rule {rule['Name']} target {target['Id']}"
        if not rule.get("ScheduleExpression") or rule.get("EventPattern"):
            out.gap(where, "EventPattern", "a rule on an event pattern; only schedules")
            continue
        if rule.get("EventBusName", "default") != "default" or rule.get("State") != "ENABLED":
            out.gap(where, "State", f"{rule.get('State')} on bus {rule.get('EventBusName')}")
        for key in ("InputPath", "InputTransformer", "RetryPolicy", "DeadLetterConfig"):
            if target.get(key):
                out.gap(where, key, "set; the configuration says only `input`")
        try:
            found.append(
                ScheduleTrigger(
                    expression=str(rule["ScheduleExpression"]),
                    rule_name=str(rule["Name"]),
                    description=str(rule.get("Description") or ""),
                    target_id=str(target["Id"]),
                    exists=True,
                    input=target.get("Input"),
                    target=target_of(qualifier_of(str(target["Arn"])), alias, out, where),
                )
            )
        except ValueError as err:
            out.gap(where, "settings", str(err))
    return found


def permissions(facts: FunctionFacts, alias: str, out: Expressed) -> list[Trigger]:
    found: list[Trigger] = []
    for qualifier, statement in facts.statements:
        where = f"function {facts.name} policy statement {statement.get('Sid')}"
        if statement.get("Action") == "lambda:InvokeFunctionUrl":
            out.notes.append(f"{where}: the function URL's own grant, left to the URL's owner")
            continue
        principal = statement.get("Principal")
        principal = (
            principal.get("Service") or principal.get("AWS")
            if isinstance(principal, dict)
            else principal
        )
        condition = dict(statement.get("Condition") or {})
        source = None
        for operator in ("ArnLike", "ArnEquals"):
            source = source or (condition.pop(operator, {}) or {}).get("AWS:SourceArn")
        if (
            statement.get("Action") != "lambda:InvokeFunction"
            or condition
            or statement.get("Effect") != "Allow"
        ):
            out.gap(
                where,
                "Action/Condition",
                f"{json.dumps(statement)[:200]}: only an Allow of lambda:InvokeFunction "
                "with a source ARN",
            )
            continue
        if (
            principal
            and str(principal).startswith("arn:aws:iam::")
            and str(principal).endswith(":root")
        ):
            principal = str(principal).split(":")[4]
        target = target_of(qualifier, alias, out, where)
        try:
            found.append(
                InvokePermission(
                    principal=str(principal),
                    statement_id=str(statement["Sid"]),
                    source_arn=source,
                    exists=True,
                    target=target,
                )
            )
        except ValueError as err:
            out.gap(where, "Principal", str(err))
    return found


def external_callers(
    facts: FunctionFacts, alias: str, out: Expressed
) -> tuple[ExternalCaller, ...]:
    found = []
    for caller in facts.callers:
        where = f"{caller.kind} {caller.id}"
        target = target_of(caller.qualifier, alias, out, where)
        kind = cast(ExternalCallerKind, caller.kind)
        found.append(ExternalCaller(kind=kind, id=caller.id, target=target, owner=caller.owner))
    return tuple(found)


def async_invoke(facts: FunctionFacts) -> AsyncInvoke | None:
    config = facts.async_invoke
    if not config:
        return None
    destinations = config.get("DestinationConfig") or {}
    value = {
        "maximum_retry_attempts": config.get("MaximumRetryAttempts"),
        "maximum_event_age_s": config.get("MaximumEventAgeInSeconds"),
        "on_failure_arn": (destinations.get("OnFailure") or {}).get("Destination"),
        "on_success_arn": (destinations.get("OnSuccess") or {}).get("Destination"),
    }
    return AsyncInvoke(**value) if any(v is not None for v in value.values()) else None


def provisioned(facts: FunctionFacts, alias: str, out: Expressed) -> int | None:
    found = None
    for config in facts.provisioned:
        qualifier = qualifier_of(str(config.get("FunctionArn", "")))
        if qualifier != alias:
            out.gap(
                f"function {facts.name}:{qualifier}",
                "provisioned concurrency",
                f"on {qualifier!r}; only on the alias {alias!r}",
            )
            continue
        found = int(config["RequestedProvisionedConcurrentExecutions"])
    return found
