"""Who invokes the estate's functions from outside them: EventBridge rule targets, API
Gateway (REST and HTTP APIs) integrations, function URLs.

Rules are found by listing every rule of the default bus and its targets (ListRules,
ListTargetsByRule) rather than ListRuleNamesByTarget per ARN: one pass finds targets that
name the function, a version or any alias alike, and the local rehearsal's endpoint (moto)
answers ListRuleNamesByTarget with nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from scripts.discover.facts import (
    ExternalCallerFacts,
    FunctionFacts,
    RuleTarget,
    function_arn_in,
    function_name_of,
    qualifier_of,
)

if TYPE_CHECKING:
    from scripts.discover.reads import Reader


def rule_targets(reader: Reader, names: set[str]) -> dict[str, tuple[RuleTarget, ...]]:
    """Per function name, every rule target that invokes it."""
    events = reader.clients["events"]
    found: dict[str, list[RuleTarget]] = {}
    for rule in reader.pages("eventbridge", "ListRules", events, "list_rules", "Rules"):
        name = str(rule["Name"])
        targets = reader.pages(
            f"rule {name}", "targets", events, "list_targets_by_rule", "Targets", Rule=name
        )
        for target in targets:
            arn = str(target.get("Arn", ""))
            if ":function:" in arn and function_name_of(arn) in names:
                found.setdefault(function_name_of(arn), []).append(
                    RuleTarget(rule=rule, target=target)
                )
    return {k: tuple(v) for k, v in found.items()}


def _lambda_target(uri: str, names: set[str]) -> str | None:
    arn = function_arn_in(uri)
    return arn if ":function:" in arn and function_name_of(arn) in names else None


def _add(found: dict[str, list[ExternalCallerFacts]], caller: ExternalCallerFacts) -> None:
    found.setdefault(function_name_of(caller.function_arn), []).append(caller)


def api_callers(reader: Reader, names: set[str]) -> dict[str, tuple[ExternalCallerFacts, ...]]:
    """Per function name, the API Gateway integrations that invoke it."""
    found: dict[str, list[ExternalCallerFacts]] = {}
    v2 = reader.clients["apigatewayv2"]
    for api in reader.pages("apigatewayv2", "GetApis", v2, "get_apis", "Items"):
        api_id = str(api["ApiId"])
        for item in reader.pages(
            f"apigatewayv2 api {api_id}",
            "integrations",
            v2,
            "get_integrations",
            "Items",
            ApiId=api_id,
        ):
            arn = _lambda_target(str(item.get("IntegrationUri", "")), names)
            if arn:
                caller_id = f"{api_id}/{item['IntegrationId']}"
                _add(
                    found,
                    ExternalCallerFacts(
                        kind="apigatewayv2-integration",
                        id=caller_id,
                        function_arn=arn,
                        owner=str(api.get("Name", "")),
                    ),
                )
    v1 = reader.clients["apigateway"]
    for rest in reader.pages("apigateway", "GetRestApis", v1, "get_rest_apis", "items"):
        rest_id = str(rest["id"])
        resources = reader.pages(
            f"apigateway rest api {rest_id}",
            "resources",
            v1,
            "get_resources",
            "items",
            restApiId=rest_id,
            embed=["methods"],
        )
        for resource in resources:
            for method, spec in (resource.get("resourceMethods") or {}).items():
                uri = str((spec.get("methodIntegration") or {}).get("uri", ""))
                arn = _lambda_target(uri, names)
                if arn:
                    _add(
                        found,
                        ExternalCallerFacts(
                            kind="apigateway-integration",
                            id=f"{rest_id}/{resource['id']}/{method}",
                            function_arn=arn,
                            owner=str(rest.get("name", "")),
                        ),
                    )
    return {k: tuple(v) for k, v in found.items()}


def url_callers(
    reader: Reader, name: str, qualifiers: Iterable[str | None]
) -> tuple[ExternalCallerFacts, ...]:
    """The function URLs of the function and of each alias."""
    lam = reader.clients["lambda"]
    found: list[ExternalCallerFacts] = []
    for qualifier in qualifiers:
        kwargs = {"FunctionName": name, **({"Qualifier": qualifier} if qualifier else {})}
        got = reader.call(
            f"function {name}",
            f"function URL ({qualifier or 'unqualified'})",
            lam.get_function_url_config,
            **kwargs,
        )
        if got is None:
            continue
        arn = str(got.get("FunctionArn", ""))
        if qualifier and qualifier_of(arn) is None:
            arn = f"{arn}:{qualifier}"
        url = str(got.get("FunctionUrl", ""))
        # An endpoint that ignores the qualifier answers the function's URL again.
        if all(c.id != url for c in found):
            found.append(ExternalCallerFacts(kind="function-url", id=url, function_arn=arn))
    return tuple(found)


def _actions(statement: dict[str, Any]) -> list[str]:
    value = statement.get("Action", [])
    return [value] if isinstance(value, str) else list(value)


def invoke_grants(functions: Iterable[FunctionFacts]) -> dict[str, tuple[ExternalCallerFacts, ...]]:
    """Per function name, the estate's roles whose inline policies let their code invoke it
    (`lambda.invoke(FunctionName=...)` from the API, say): the ARN granted says whether the
    code may call the alias or only the unqualified function."""
    found: dict[str, list[ExternalCallerFacts]] = {}
    names = {f.name: f for f in functions}
    seen: set[str] = set()
    for facts in names.values():
        role = facts.role
        if role is None or role.arn in seen:
            continue
        seen.add(role.arn)
        granted: dict[str, set[str]] = {}
        for document in role.inline.values():
            for statement in json.loads(document).get("Statement", []):
                if statement.get("Effect") != "Allow" or not any(
                    a in ("lambda:InvokeFunction", "lambda:*", "lambda:Invoke*")
                    for a in _actions(statement)
                ):
                    continue
                resources = statement.get("Resource", [])
                for arn in [resources] if isinstance(resources, str) else resources:
                    target = function_name_of(str(arn))
                    if ":function:" in str(arn) and target in names:
                        granted.setdefault(target, set()).add(str(arn))
        for target, arns in granted.items():
            # Only grants on the alias let the code call nothing but the alias; a grant on
            # the unqualified ARN means the code may (and, by name, does) call $LATEST.
            arn = next((a for a in sorted(arns) if qualifier_of(a) is None), sorted(arns)[0])
            found.setdefault(target, []).append(
                ExternalCallerFacts(
                    kind="lambda-invoke",
                    id=role.arn,
                    function_arn=arn,
                    owner=f"code running as {role.name}",
                )
            )
    return {k: tuple(v) for k, v in found.items()}
