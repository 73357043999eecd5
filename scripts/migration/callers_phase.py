"""Migration phase 5: every caller invokes the alias, so a release and a rollback reach it.

A caller of the unqualified function gets `$LATEST` (scripts/callers.py). Two kinds:
- ours (a trigger with target "function"): the change is `target = "alias"` in the
  environment file, printed, or written with --apply (from the file itself, so this run's
  overrides never become configuration); synthesized, it shows in our plan (the mapping
  or schedule target moves to the alias). An invoke permission is copied to the alias
  instead: the function's grant stays for the callers that have not moved yet.
- another root's (an external caller): the exact attribute to change there, printed; after
  that root applied it, the caller is read back from AWS (API Gateway's integration, the
  function URL, the rule's target) and, with --apply, the file records it as moved.
A caller nothing can read back (a role invoking by name) stays to do until the file says
so by hand.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from environments import Environment, FunctionConfig
from environments.callers import ExternalCaller
from environments.catalog import environment_text, load_environment_file
from environments.triggers import InvokePermission, Trigger
from scripts.atomic import write_atomically
from scripts.callers import unmoved_triggers
from scripts.discover.facts import function_arn_in, qualifier_of
from scripts.migration.phases import Phase, State

TITLE = "callers (every caller invokes the alias)"


def alias_arn(env: Environment, function: str, account: str) -> str:
    return f"arn:aws:lambda:{env.region}:{account}:function:{function}:{env.alias_name}"


def change_for(caller: ExternalCaller, arn: str, region: str) -> str:
    """The attribute to change in the caller's own root, and its new value as HCL (a
    double-quoted string: pasted as printed, it is valid Terraform)."""
    where = f" (in {caller.owner})" if caller.owner else ""
    if caller.kind == "apigatewayv2-integration":
        return f"aws_apigatewayv2_integration {caller.id}{where}: integration_uri = {_hcl(arn)}"
    if caller.kind == "apigateway-integration":
        uri = f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{arn}/invocations"
        return f"aws_api_gateway_integration {caller.id}{where}: uri = {_hcl(uri)}"
    if caller.kind == "function-url":
        return f"aws_lambda_function_url{where}: qualifier = {_hcl(arn.rsplit(':', 1)[1])}"
    if caller.kind == "eventbridge-target":
        return f"aws_cloudwatch_event_target {caller.id}{where}: arn = {_hcl(arn)}"
    return f"{caller.kind} {caller.id}{where}: invoke {arn} (Qualifier or the alias ARN)"


def _hcl(value: str) -> str:
    return json.dumps(value)


def _read_qualifier(caller: ExternalCaller, aws: Mapping[str, Any]) -> str | None:
    """What the caller invokes now, read from AWS; "" when it cannot be read back."""
    if caller.kind == "apigatewayv2-integration":
        api_id, integration_id = caller.id.split("/", 1)
        got = aws["apigatewayv2"].get_integration(ApiId=api_id, IntegrationId=integration_id)
        return qualifier_of(str(got.get("IntegrationUri", "")))
    if caller.kind == "apigateway-integration":
        rest_id, resource_id, method = caller.id.split("/", 2)
        got = aws["apigateway"].get_integration(
            restApiId=rest_id, resourceId=resource_id, httpMethod=method
        )
        return qualifier_of(function_arn_in(str(got.get("uri", ""))))
    if caller.kind == "eventbridge-target":
        rule, target_id = caller.id.split("/", 1)
        targets = aws["events"].list_targets_by_rule(Rule=rule).get("Targets", [])
        found: Mapping[str, Any] = next((t for t in targets if t["Id"] == target_id), {})
        return qualifier_of(str(found.get("Arn", "")))
    return ""


def _moved(config: FunctionConfig, verified: set[str], alias: str) -> FunctionConfig:
    """`config` with its triggers on the alias. A grant is not moved but copied: moving it
    replaces the function's statement, and a caller still invoking the function (another
    root's API Gateway integration, say) would get 403 until it moves too (plan-check
    refuses that). The function's grant stays; it is a leftover once its callers moved."""
    triggers: list[Trigger] = []
    unmoved = unmoved_triggers(config)
    for trigger in config.triggers:
        if trigger not in unmoved:
            triggers.append(trigger)
        elif isinstance(trigger, InvokePermission):
            twin = f"{trigger.statement_id}-{alias}"[:100]
            triggers += [trigger, replace(trigger, statement_id=twin, exists=False, target="alias")]
        else:
            triggers.append(replace(trigger, target="alias"))
    callers = tuple(
        replace(c, target="alias") if c.id in verified else c for c in config.external_callers
    )
    return replace(config, triggers=tuple(triggers), external_callers=callers)


def callers(
    env: Environment,
    *,
    aws: Mapping[str, Any],
    account: str,
    env_file: Path,
    apply: bool,
) -> Phase:
    checked: list[str] = []
    todo: list[str] = []
    # function -> the ids of its external callers read back on the alias
    moved: dict[str, set[str]] = {}
    for config in env.functions:
        name = env.function_name(config.name)
        arn = alias_arn(env, name, account)
        ours = unmoved_triggers(config)
        for trigger in ours:
            change = (
                f'a copy of {trigger.statement_id} with target = "alias" (the function\'s '
                "grant stays for the callers not moved yet)"
                if isinstance(trigger, InvokePermission)
                else 'target = "alias"'
            )
            todo.append(
                f"{env_file.name}: functions[{config.name}] {type(trigger).KIND} trigger: "
                f"{change} (then synth, plan-check, apply)"
            )
        verified = set()
        for caller in (c for c in config.external_callers if c.target == "function"):
            now = _read_qualifier(caller, aws)
            if now == env.alias_name:
                verified.add(caller.id)
                checked.append(f"{name}: {caller.kind} {caller.id} invokes the alias (read back)")
            else:
                todo.append(f"{name}: {change_for(caller, arn, env.region)}")
        if ours or verified:
            moved[config.name] = verified
    if apply and moved:
        # The file as written, not `env`: that carries this run's overrides (--backend-dir,
        # the endpoint), which must not become the reviewed configuration.
        base = load_environment_file(env_file) if env_file.is_file() else env
        functions = tuple(
            _moved(f, moved[f.name], base.alias_name) if f.name in moved else f
            for f in base.functions
        )
        write_atomically(env_file, environment_text(replace(base, functions=functions)))
        checked.append(f"wrote {env_file}: {len(moved)} function(s) now say target = alias")
        todo = [line for line in todo if not line.startswith(f"{env_file.name}:")]
    # Whether this run rewrote the file: the synthesized stack is stale until synth + apply.
    wrote = {"env_file_written": True} if apply and moved else {}
    if not todo:
        return Phase(
            number=5,
            title=TITLE,
            state=State.DONE,
            checked=(*checked, "none bypass"),
            details=wrote,
        )
    return Phase(
        number=5,
        title=TITLE,
        state=State.TODO,
        checked=(*checked, *(f"bypasses the alias: {line}" for line in todo)),
        next="make the changes listed (--apply writes the environment file's), then run "
        "migrate again: it reads each external caller back",
        details={"changes": todo, **wrote},
    )
