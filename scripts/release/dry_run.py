"""`deploy --dry-run` / `rollback --dry-run`: the release as planned, reported, not run.

Deploy and rollback plan as always (the same reads, the same steps); with `ctx.dry_run`
the lock is not taken (`release.session`), no layer version is published, no code
snapshot is saved, and `release.release` hands the plan here instead of executing it.
Per function: where the alias moves, what code and layers change, who calls it (the
triggers and permissions in the configuration), and the AWS calls the steps would make.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import artifacts
from environments import Environment, FunctionConfig
from environments.triggers import InvokePermission, ScheduleTrigger, SqsTrigger
from scripts.release.context import Context
from scripts.release.engine import FunctionRun, Step
from scripts.release.facts import facts
from scripts.release.history import FunctionEntry, ReleaseRecord
from scripts.release.steps import ReleaseStep

# What `deploy` plans with when the layer version it needs does not exist yet (no ARN
# parser accepts it: it never leaves a dry run).
NEW_LAYER_VERSION = "new"


def _write_calls(step: Step) -> tuple[str, ...]:
    """What the step's own module says its write calls (declared there, beside `calls`)."""
    declared = step.dry_run_calls if isinstance(step, ReleaseStep) else ()
    return declared or (step.name,)


def new_layer_arn(env: Environment, place: tuple[str, str, str]) -> str:
    partition, region, account = place
    return f"arn:{partition}:lambda:{region}:{account}:layer:{env.layer_name}:{NEW_LAYER_VERSION}"


def callers(config: FunctionConfig | None, alias: str) -> list[str]:
    """Who reaches the function through its alias, as the configuration says."""
    found = []
    for trigger in config.triggers if config else ():
        if isinstance(trigger, SqsTrigger):
            found.append(f"SQS queue {trigger.queue_arn.rsplit(':', 1)[-1]}")
        elif isinstance(trigger, ScheduleTrigger):
            found.append(f"EventBridge schedule {trigger.expression}")
        elif isinstance(trigger, InvokePermission):
            found.append(f"{trigger.principal} (permission {trigger.statement_id})")
    found.append(f"anyone invoking the {alias} alias by name")
    return found


def _deps_layer(layers: Sequence[str], layer_name: str) -> str | None:
    # By the name field, not layers.deps_layer_of: the placeholder is no valid ARN.
    return next((arn for arn in layers if arn.split(":")[6:7] == [layer_name]), None)


def _layer(arn: str | None) -> str | None:
    if arn is None:
        return None
    version = arn.rsplit(":", 1)[-1]
    return "a new layer version" if version == NEW_LAYER_VERSION else f"version {version}"


def _function(
    ctx: Context, run: FunctionRun, entry: FunctionEntry, steps: Sequence[Step]
) -> dict[str, Any]:
    env, f = ctx.env, facts(run)
    moves = any(step.name == "switch" for step in steps)
    to = entry.target.version or "a new version"
    config = next(
        (c for c, n in zip(env.functions, env.function_names, strict=True) if n == run.name),
        None,
    )
    before_layer = _deps_layer(entry.before.layers, env.layer_name)
    after_layer = _deps_layer(entry.target.layers, env.layer_name)
    return {
        "alias": {"from": entry.alias_version, "to": to if moves else entry.alias_version},
        "moves": moves,
        "code": None
        if f.target_code is None and entry.before.code_sha256 == entry.target.code_sha256
        else {"from": entry.before.code_sha256, "to": entry.target.code_sha256},
        "layer": None
        if before_layer == after_layer
        else {"from": _layer(before_layer), "to": _layer(after_layer)},
        "callers": callers(config, env.alias_name) if moves else [],
        "calls": [call for step in steps for call in _write_calls(step)],
    }


def _lines(name: str, plan: Mapping[str, Any]) -> list[str]:
    if not plan["calls"]:
        return [f"  {name}: already at the target: no call"]
    alias = plan["alias"]
    lines = [f"  {name}: alias {alias['from'] or '(none)'} -> {alias['to']}"]
    if plan["code"]:
        lines.append(f"    code {plan['code']['from']} -> {plan['code']['to']}")
    if plan["layer"]:
        lines.append(f"    deps layer {plan['layer']['from']} -> {plan['layer']['to']}")
    if plan["callers"]:
        lines.append(f"    callers moved: {'; '.join(plan['callers'])}")
    lines.append(f"    calls: {', '.join(plan['calls'])}")
    return lines


def report(
    ctx: Context,
    *,
    record: ReleaseRecord,
    runs: Mapping[str, FunctionRun],
    prepare: Mapping[str, Sequence[Step]],
    switch: Mapping[str, Sequence[Step]],
) -> dict[str, Any]:
    """The plan, said on stderr and returned as `--json`'s one object. Nothing is written."""
    functions = {
        name: _function(
            ctx, run, record.functions[name], [*prepare.get(name, ()), *switch.get(name, ())]
        )
        for name, run in runs.items()
    }
    changing = prepare or switch
    ctx.say(
        f"dry run: {record.kind} {ctx.env.name} would "
        + ("change:" if changing else "change nothing")
    )
    for name, plan in functions.items():
        for line in _lines(name, plan):
            ctx.say(line)
    store_writes = (
        [
            f"PutObject {artifacts.lock_name(ctx.env.name)} (the lock; deleted at the end)",
            f"PutObject {artifacts.release_record(ctx.env.name, record.id)} (the record)",
        ]
        if changing
        else []
    )
    if store_writes:
        ctx.say("  store: " + "; ".join(store_writes))
    return {
        "env": ctx.env.name,
        "dry_run": True,
        "kind": record.kind,
        "release": None,
        "state": "planned" if changing else "unchanged",
        "functions": functions,
        "store_writes": store_writes,
    }
