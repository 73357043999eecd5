"""Who reaches each function, and whether through the alias a release moves.

Computed from the environment alone (its triggers' and external callers' `target`), so
discover, status, deploy and migrate say the same thing: a caller with target "function"
invokes the unqualified function and gets `$LATEST`, which the prepare phase updates
before the switch and an alias-only rollback never restores.
"""

from __future__ import annotations

from dataclasses import dataclass

from environments import Environment, FunctionConfig
from environments.triggers import InvokePermission, ScheduleTrigger, SqsTrigger, Trigger


@dataclass(frozen=True, kw_only=True)
class Caller:
    kind: str
    id: str
    # "alias" or "function" (the unqualified function: $LATEST)
    target: str
    # True when our stack owns it (a trigger); False for another root's (external caller).
    ours: bool

    def line(self) -> str:
        return f"{self.kind} {self.id} -> {'alias' if self.target == 'alias' else '$LATEST'}"


def granted_on_alias(trigger: InvokePermission, function: FunctionConfig) -> bool:
    """A grant on the unqualified function whose twin (same principal and source) is on
    the alias: it is kept for callers that have not moved yet, and calls nothing itself
    (those callers are listed on their own)."""
    return trigger.target == "function" and any(
        isinstance(t, InvokePermission)
        and t.target == "alias"
        and (t.principal, t.source_arn) == (trigger.principal, trigger.source_arn)
        for t in function.triggers
    )


def unmoved_triggers(function: FunctionConfig) -> list[Trigger]:
    """The function's triggers that still invoke (or grant) the unqualified function."""
    return [
        t
        for t in function.triggers
        if t.target == "function"
        and not (isinstance(t, InvokePermission) and granted_on_alias(t, function))
    ]


def callers_of(function: FunctionConfig) -> list[Caller]:
    """Every caller the configuration knows for `function`, qualified or not."""
    found = []
    for trigger in function.triggers:
        if isinstance(trigger, SqsTrigger):
            queue = trigger.queue_arn.rsplit(":", 1)[-1]
            found.append(
                Caller(
                    kind="sqs",
                    id=f"{queue} {trigger.existing_uuid or ''}".strip(),
                    target=trigger.target,
                    ours=True,
                )
            )
        elif isinstance(trigger, ScheduleTrigger):
            found.append(
                Caller(
                    kind="schedule",
                    id=f"{trigger.rule_name}/{trigger.target_id}",
                    target=trigger.target,
                    ours=True,
                )
            )
        elif isinstance(trigger, InvokePermission) and not granted_on_alias(trigger, function):
            found.append(
                Caller(
                    kind="permission",
                    id=f"{trigger.statement_id} ({trigger.principal})",
                    target=trigger.target,
                    ours=True,
                )
            )
    found += [
        Caller(kind=c.kind, id=c.id, target=c.target, ours=False) for c in function.external_callers
    ]
    return found


def bypassing(function: FunctionConfig) -> list[Caller]:
    """The callers that invoke the unqualified function: a release misses them."""
    return [c for c in callers_of(function) if c.target == "function"]


def bypassed_functions(env: Environment) -> dict[str, list[Caller]]:
    """Real function name -> its callers that bypass the alias, for the functions releases
    change (an own-package or unmanaged function's `$LATEST` is never ours to move)."""
    found = {}
    for function in env.released_functions:
        missing = bypassing(function)
        if missing:
            found[env.function_name(function.name)] = missing
    return found


def bypass_lines(env: Environment) -> dict[str, list[str]]:
    """`bypassed_functions` as text: what deploy prints and its record keeps."""
    return {name: [c.line() for c in found] for name, found in bypassed_functions(env).items()}
