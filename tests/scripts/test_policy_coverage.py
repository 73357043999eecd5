"""The deployer policy Terraform creates must allow every call the scripts make.

The two sides never import each other, so nothing else ties the IAM actions in
`infra_constructs/deployer_policy.py` to the API calls in `scripts/`: a new call would
only fail in a real account, with AccessDenied, halfway through a deploy. This test runs
deploy, a layer change, rollback and prune against moto, records every operation, and
checks each against the reviewed staging snapshot's policy document.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from conftest import ONE_ATTEMPT
from lambda_double import LambdaDouble
from lambda_world import World, make_world
from running_code import running_world, upload_running_package

from environments import ENVIRONMENTS, Hook, SmokeCheck
from scripts.release.canary import Canary
from scripts.release.deploy import deploy, target_from_store
from scripts.release.prune import prune_layers
from scripts.release.prune_versions import prune_versions
from scripts.release.rollback import RollbackRequest, rollback
from scripts.release.sources import Sources
from scripts.release.status import status

SNAPSHOT = (
    Path(__file__).resolve().parents[1]
    / "infra"
    / "__snapshots__"
    / "test_snapshots"
    / "test_stack_snapshot[staging].json"
)
# The alias the staging policy names (the estate's, "staging") and the one the test world
# releases (local's, "live"): the same grant, under each environment's alias name.
POLICY_ALIAS = ENVIRONMENTS["staging"].alias_name
WORLD_ALIAS = ENVIRONMENTS["local"].alias_name
# S3 operations are authorised by the action of the object they touch.
S3_ACTIONS = {
    "HeadObject": "s3:GetObject",
    "GetObject": "s3:GetObject",
    "PutObject": "s3:PutObject",
    # Only the deploy lock object may be deleted (the DeployLock statement).
    "DeleteObject": "s3:DeleteObject",
    "ListObjectsV2": "s3:ListBucket",
    "ListObjects": "s3:ListBucket",
}


def deployer_statements() -> list[dict[str, Any]]:
    stack = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    documents = stack["data"]["aws_iam_policy_document"]
    (deployer,) = (doc for name, doc in documents.items() if name.startswith("deployer_policy"))
    statements: list[dict[str, Any]] = deployer["statement"]
    return statements


def deployer_actions() -> set[str]:
    return {action for statement in deployer_statements() for action in statement["actions"]}


def _scope(resource: str) -> str:
    """What a resource in the policy matches: the bare function, its alias, or any qualifier."""
    if resource.endswith(":*"):
        return "qualified"
    return "alias" if resource.endswith(f":{POLICY_ALIAS}") else "plain"


def granted() -> set[tuple[str, str]]:
    """(action, scope) pairs; a `:*` grant also covers the alias."""
    pairs = set()
    for statement in deployer_statements():
        for action in statement["actions"]:
            for resource in statement["resources"]:
                scope = _scope(resource)
                pairs.add((action, scope))
                if scope == "qualified":
                    pairs.add((action, "alias"))
    return pairs


_ALIAS_OPERATIONS = {"GetAlias", "CreateAlias", "UpdateAlias", "DeleteAlias"}
# Where the IAM action is not the operation's name.
_ACTIONS = {"Invoke": "lambda:InvokeFunction"}


def action(operation: str) -> str:
    return _ACTIONS.get(operation, f"lambda:{operation}")


def needed(operation: str, params: dict[str, Any]) -> tuple[str, str] | None:
    """IAM matches a qualified call (a version, an alias) against the qualified ARN only."""
    if "LayerName" in params:
        return None  # layer versions: the layer statement grants NAME and NAME:*
    if operation in _ALIAS_OPERATIONS:
        return f"lambda:{operation}", "alias"
    qualifier = params.get("Qualifier") or (
        str(params.get("FunctionName", "")).split(":")[-1]
        if ":" in str(params.get("FunctionName", ""))
        else None
    )
    if qualifier is None:
        return action(operation), "plain"
    return action(operation), "alias" if qualifier == WORLD_ALIAS else "qualified"


def test_every_call_of_deploy_rollback_and_prune_is_allowed(world: World) -> None:
    s3_operations: list[str] = []

    def record_s3(model: Any, **_: Any) -> None:
        s3_operations.append(model.name)

    world.s3.meta.events.register("provide-client-params.s3", record_s3)
    world.log.clear()

    env, lam, store = world.env, world.lam, world.store
    for layer_tag, package_tag in (("v1", "v1"), ("v2", "v1"), ("v2", "v2")):
        deploy(world.context(), world.target(layer_tag, package_tag))
    rollback(world.context(), RollbackRequest(previous=True))
    rollback(world.context(), RollbackRequest(previous=True))
    status(env, world.context().api, store, say=print)
    prune_versions(env=env, api=world.context().api, store=store, keep=1, apply=True, say=print)
    prune_layers(env=env, lambda_client=lam, store=store, keep=1, apply=True, environments=[env])

    lambda_actions = {f"lambda:{operation}" for operation, _ in world.log.calls}
    s3_actions = {S3_ACTIONS[operation] for operation in s3_operations}
    used = lambda_actions | s3_actions
    # The run really exercised publish, both updates and the S3 side.
    assert {
        "lambda:PublishLayerVersion",
        "lambda:UpdateFunctionCode",
        "lambda:UpdateFunctionConfiguration",
        "lambda:PublishVersion",
        "lambda:UpdateAlias",
        "lambda:DeleteFunction",
        "s3:GetObject",
        "s3:PutObject",
        "s3:DeleteObject",
    } <= used
    assert used - deployer_actions() == set()
    # And on the right resources: a call on a version or the alias needs a qualified grant.
    calls = {needed(op, params) for op, params in world.log.calls}
    assert {c for c in calls if c is not None} - granted() == set()


def test_every_call_of_hooks_smoke_checks_and_a_canarys_log_watch_is_allowed(
    lambda_double: LambdaDouble, python312: str
) -> None:
    world = running_world(make_world(lambda_double.endpoint, lambda_config=ONE_ATTEMPT))
    smoke = SmokeCheck(event={"version": True}, expect={"version": "v1"})
    world.env = replace(
        world.env,
        functions=tuple(replace(f, smoke=smoke) for f in world.env.functions),
        hooks=(Hook(function="db-sync", event={"migrate": True}),),
    )
    logs_operations: list[str] = []
    logs = world.client("logs")
    logs.meta.events.register(
        "provide-client-params.logs", lambda model, **_: logs_operations.append(model.name)
    )
    ctx = world.context()
    ctx.logs = lambda: logs
    target = target_from_store(
        Sources(world.store),
        world.env,
        layer_hash=world.upload_layer("v1"),
        package_hash=upload_running_package(world, "v1", needs="dep_v1"),
    )
    world.log.clear()

    result = deploy(ctx, target, canary=Canary(percent=10, bake_s=0.1))

    assert result["state"] == "succeeded"
    calls = {needed(op, params) for op, params in world.log.calls}
    # The hook invoked a version, the smoke checks the version (canary) then the alias.
    assert {("lambda:InvokeFunction", "qualified"), ("lambda:InvokeFunction", "alias")} <= calls
    assert {c for c in calls if c is not None} - granted() == set()
    assert set(logs_operations) == {"FilterLogEvents"}
    assert {f"logs:{op}" for op in logs_operations} <= deployer_actions()
