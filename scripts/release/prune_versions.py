"""`prune-versions`: delete published function versions no release can still need.

Dry run unless `--apply`. Per function a version is kept when an alias routes to it (a
canary's second version included), when one of the last `--keep` succeeded releases
names it (as its target or as the state before it: what rollback returns to), or when it
is the newest version (a deploy may be about to switch to it). Everything else goes;
`$LATEST` is never a candidate.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from botocore.exceptions import ClientError

from environments import Environment
from scripts.errors import BadInputError, ToolError
from scripts.release.history import ReleaseRecord, load_releases
from scripts.release.lambda_api import Api, describe
from scripts.store import Store


def kept_versions(
    name: str,
    versions: Sequence[str],
    *,
    alias_targets: Sequence[str],
    releases: Sequence[ReleaseRecord],
) -> dict[str, list[str]]:
    """Pure: version -> why it stays."""
    reasons: dict[str, list[str]] = {}
    for version in alias_targets:
        reasons.setdefault(version, []).append("an alias routes to it")
    for record in releases:
        entry = record.functions.get(name)
        if entry is None:
            continue
        for state, what in ((entry.target, "target"), (entry.before, "state before")):
            if state.version:
                reasons.setdefault(state.version, []).append(f"{what} of release {record.id}")
    if versions:
        newest = max(versions, key=int)
        reasons.setdefault(newest, []).append("the newest version")
    return {v: r for v, r in reasons.items() if v in versions}


def prune_versions(
    *,
    env: Environment,
    api: Api,
    store: Store,
    keep: int,
    apply: bool,
    say: Callable[[str], None],
) -> dict[str, Any]:
    if keep < 1:
        raise BadInputError(f"--keep: got {keep}; keep at least the current release (1)")
    releases = [r for r in load_releases(store, env.name, warn=say) if r.succeeded][:keep]
    result: dict[str, Any] = {"env": env.name, "applied": apply, "functions": {}}
    for name in env.released_function_names:
        versions = [v.version for v in api.versions(name)]
        targets = _alias_targets(api, name)
        kept = kept_versions(name, versions, alias_targets=targets, releases=releases)
        doomed = [v for v in versions if v not in kept]
        deleted: list[str] = []
        for version in sorted(kept, key=int, reverse=True):
            say(f"  keep {name}:{version}: {'; '.join(kept[version])}")
        for version in doomed:
            if not apply:
                say(f"  would delete {name}:{version} (dry run: add --apply)")
                continue
            try:
                api.delete_version(name, version)
            except ClientError as err:
                raise ToolError(
                    f"deleting {name}:{version} failed after deleting {deleted}: {describe(err)}"
                ) from err
            deleted.append(version)
            say(f"  deleted {name}:{version}")
        result["functions"][name] = {
            "kept": {v: kept[v] for v in sorted(kept, key=int)},
            "deleted": deleted,
            "would_delete": [] if apply else doomed,
        }
    return result


def _alias_targets(api: Api, name: str) -> list[str]:
    found: list[str] = []
    for page in api.client.get_paginator("list_aliases").paginate(FunctionName=name):
        for alias in page.get("Aliases", []):
            found.append(str(alias["FunctionVersion"]))
            weights: Mapping[str, float] = (alias.get("RoutingConfig") or {}).get(
                "AdditionalVersionWeights"
            ) or {}
            found.extend(str(v) for v in weights)
    return found
