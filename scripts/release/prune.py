"""`prune-layers`: delete old deps layer versions nobody can still need.

Dry run unless `--apply`. A version is kept when any of these holds, and the output says
which for each one:
- it is among the newest `--keep` versions (a deploy may be attaching the newest now);
- a function of any configured environment in this region uses it (layers are regional,
  so functions elsewhere cannot);
- the recent release history names it, as a target or as the state before one: that
  is what `rollback --previous` returns to;
- a published version of one of this environment's functions uses it (what prune-versions
  kept: an alias may be moved back onto that version);
- `deploy` did not publish it (no `hash=` in its description): Terraform's first version
  is in Terraform's state, and deleting it would make the next plan recreate it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from environments import Environment
from scripts import progress
from scripts.errors import BadInputError, ToolError
from scripts.release.history import load_releases
from scripts.release.lambda_api import Api
from scripts.release.layers import LayerVersionInfo, layer_versions
from scripts.store import Store

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

# Records read for "named in the recent deployment history".
DEFAULT_HISTORY = 20


@dataclass(frozen=True, kw_only=True)
class PrunePlan:
    delete: tuple[LayerVersionInfo, ...]
    kept: Mapping[int, tuple[str, ...]] = field(default_factory=dict)


def plan_prune(
    versions: Iterable[LayerVersionInfo],
    *,
    keep: int,
    attached: Mapping[str, Sequence[str]],
    history: Mapping[str, str],
    versions_using: Mapping[str, Sequence[str]] | None = None,
) -> PrunePlan:
    """Pure: which versions go, and every reason each kept one stays."""
    if keep < 1:
        raise BadInputError(f"--keep: got {keep}; keep at least the newest version (1)")
    ordered = sorted(versions, key=lambda v: v.version, reverse=True)
    delete: list[LayerVersionInfo] = []
    kept: dict[int, tuple[str, ...]] = {}
    for rank, info in enumerate(ordered):
        reasons: list[str] = []
        if rank < keep:
            reasons.append(f"among the newest {keep}")
        if info.arn in attached:
            reasons.append(f"attached to {', '.join(sorted(attached[info.arn]))}")
        if info.arn in history:
            reasons.append(f"named in the release history ({history[info.arn]})")
        users = (versions_using or {}).get(info.arn)
        if users:
            shown = ", ".join(sorted(users)[:3]) + (" ..." if len(users) > 3 else "")
            reasons.append(f"used by published function versions ({shown})")
        if info.layer_hash is None:
            reasons.append("not published by deploy (Terraform's version)")
        if reasons:
            kept[info.version] = tuple(reasons)
        else:
            delete.append(info)
    return PrunePlan(delete=tuple(delete), kept=kept)


def attached_layers(
    client: LambdaClient, env: Environment, environments: Iterable[Environment]
) -> tuple[dict[str, list[str]], list[str]]:
    """Layer version ARN -> functions using it, over every configured environment here.

    Another environment's function we may not read (its deployer role is scoped to its
    own functions) is reported as skipped; a function of this environment we cannot read
    is an error, since it is the likeliest user of these versions.
    """
    region = client.meta.region_name
    users: dict[str, list[str]] = {}
    skipped: list[str] = []
    for other in environments:
        if other.region != region:
            continue
        for name in other.function_names:
            try:
                config = client.get_function_configuration(FunctionName=name)
            except ClientError as err:
                code = err.response.get("Error", {}).get("Code", "")
                if code == "ResourceNotFoundException":
                    continue
                if other.name != env.name and code in {"AccessDeniedException", "AccessDenied"}:
                    skipped.append(f"{name} (access denied)")
                    continue
                raise
            for layer in config.get("Layers", []):
                users.setdefault(layer["Arn"], []).append(name)
    return users, skipped


def history_layers(
    store: Store, env: Environment, limit: int, say: Callable[[str], None]
) -> dict[str, str]:
    named: dict[str, str] = {}
    for record in load_releases(store, env.name, limit=limit, warn=say):
        for arn in record.layer_arns():
            named.setdefault(arn, f"release {record.id}")
    return named


def version_layers(api: Api, env: Environment) -> dict[str, list[str]]:
    """Layer version ARN -> `function:version` of every published version using it."""
    users: dict[str, list[str]] = {}
    for name in env.function_names:
        try:
            versions = api.versions(name)
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                continue
            raise
        for version in versions:
            for arn in version.layers:
                users.setdefault(arn, []).append(f"{name}:{version.version}")
    return users


def prune_layers(
    *,
    env: Environment,
    lambda_client: LambdaClient,
    store: Store,
    keep: int,
    apply: bool,
    environments: Iterable[Environment] = (),
    history: int = DEFAULT_HISTORY,
    say: Callable[[str], None] = progress.say,
) -> dict[str, Any]:
    if keep < 1:
        raise BadInputError(f"--keep: got {keep}; keep at least the newest version (1)")
    everyone = {e.name: e for e in (*environments, env)}
    versions = layer_versions(lambda_client, env.layer_name)
    attached, skipped = attached_layers(lambda_client, env, everyone.values())
    named = history_layers(store, env, history, say)
    used = version_layers(Api(lambda_client), env)
    plan = plan_prune(versions, keep=keep, attached=attached, history=named, versions_using=used)
    for version, reasons in sorted(plan.kept.items(), reverse=True):
        say(f"  keep {env.layer_name}:{version}: {'; '.join(reasons)}")
    for name in skipped:
        say(f"  not checked: {name}")
    deleted: list[int] = []
    for info in plan.delete:
        if apply:
            try:
                lambda_client.delete_layer_version(
                    LayerName=env.layer_name, VersionNumber=info.version
                )
            except ClientError as err:
                raise ToolError(
                    f"deleting {info.arn} failed after deleting versions {deleted}: {err}"
                ) from err
            deleted.append(info.version)
            say(f"  deleted {env.layer_name}:{info.version}")
        else:
            say(f"  would delete {env.layer_name}:{info.version} (dry run: add --apply)")
    return {
        "env": env.name,
        "layer_name": env.layer_name,
        "applied": apply,
        "deleted": deleted,
        "would_delete": [] if apply else [i.version for i in plan.delete],
        "kept": {str(v): list(r) for v, r in sorted(plan.kept.items())},
        "not_checked": skipped,
    }
