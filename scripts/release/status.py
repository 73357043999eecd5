"""`status` and `history`: what each function serves, against what the history says.

Read-only: no lock is taken, so `status` answers while a deploy runs (and shows it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import artifacts
from environments import Environment
from scripts.callers import bypass_lines
from scripts.release import history, lock, plan
from scripts.release.history import ReleaseRecord
from scripts.release.lambda_api import Api
from scripts.release.layers import deps_layer_of, layer_versions
from scripts.release.sources import Sources
from scripts.release.timing import Timing
from scripts.release.walk import serving_release
from scripts.store import Store

HISTORY = 50


def _artifact(sources: Sources, code_sha256: str) -> str | None:
    try:
        found = sources.find(code_sha256)
    except Exception:  # a broken artifact is reported as unknown, never fatal here
        return None
    return found.key if found else None


def function_status(
    name: str,
    before: plan.Before,
    *,
    sources: Sources,
    layer_hashes: Mapping[str, str | None],
    layer_name: str,
    current: ReleaseRecord | None,
) -> dict[str, Any]:
    served = before.served
    latest = before.current
    serves = served or None
    drift: list[str] = []
    if served is not None:
        if served.code_sha256 != latest.code_sha256:
            drift.append("code")
        if served.layers != latest.layers:
            drift.append("layers")
        if served.fingerprint[2:] != latest.fingerprint[2:]:
            drift.append("configuration")
    code = serves.code_sha256 if serves else latest.code_sha256
    layers = serves.layers if serves else latest.layers
    deps = deps_layer_of(layers, layer_name)
    expected = current.functions.get(name) if current else None
    return {
        "alias": before.alias.name if before.alias else None,
        "version": before.alias_version,
        "weights": dict(before.alias.weights) if before.alias else {},
        "code_sha256": code,
        "package": _artifact(sources, code),
        "deps_layer": deps,
        "layer_hash": layer_hashes.get(deps) if deps else None,
        "layers": list(layers),
        "latest_drift": drift,
        "matches_release": bool(expected and expected.target.version == before.alias_version),
    }


def _running(
    seen: lock.Seen | None, unfinished: ReleaseRecord | None, lease_s: float
) -> ReleaseRecord | None:
    """The `started` release whose run is alive: the lock naming it (or not yet naming a
    release) is being renewed, by the store's clock. Otherwise that run died."""
    if unfinished is None or seen is None or seen.holder is None or seen.takeable(lease_s):
        return None
    return unfinished if seen.holder.release_id in (None, unfinished.id) else None


def _lock_text(seen: lock.Seen | None, lease_s: float) -> str | None:
    if seen is None:
        return None
    text = seen.describe(lease_s)
    if seen.holder is None:
        return text
    if seen.takeable(lease_s):
        return f"{text}; its holder is gone: the next deploy or rollback takes it over"
    return f"{text}; alive (renewed {seen.age or 0:.0f}s ago by the store's clock)"


def status(
    env: Environment, api: Api, store: Store, *, say: Any, timing: Timing | None = None
) -> dict[str, Any]:
    lease_s = (timing or Timing()).lock_lease_s
    records = history.load_releases(store, env.name, limit=HISTORY, warn=say)
    befores = plan.read_before(api, env, env.released_function_names)
    current = serving_release(records, befores)
    seen = lock.look(store, env.name)
    layer_hashes = {v.arn: v.layer_hash for v in layer_versions(api.client, env.layer_name)}
    sources = Sources(store)
    functions = {
        name: function_status(
            name,
            before,
            sources=sources,
            layer_hashes=layer_hashes,
            layer_name=env.layer_name,
            current=current,
        )
        for name, before in befores.items()
    }
    unfinished = history.unfinished(records[:1])
    running = _running(seen, unfinished, lease_s)
    if running is not None:
        unfinished = None  # its run is alive: in progress, not dead
    # After a crash the last known good is the newest release that did finish before it:
    # the next deploy or rollback puts the functions back to that unfinished record's
    # before-state, which is what that release left.
    last_good = (
        next((r for r in records if r.succeeded and r.id < unfinished.id), None)
        if unfinished
        else None
    )
    old = history.old_format_records(store, env.name)
    if old:
        say(
            f"warning: {old} record(s) of the previous format under "
            f"{store.location}deployments/{env.name}/ are not read: they predate releases "
            "behind aliases (rollback cannot return to them)"
        )
    legacy = sum(1 for r in records if r.legacy_before)
    if legacy:
        say(
            f"warning: {legacy} release record(s) of format 1 (written before issue 16): their "
            "before-states name each alias's version beside $LATEST's code; rollback takes "
            "those versions' code and layers from Lambda"
        )
    result = {
        "env": env.name,
        "current_release": current.id if current else None,
        "serves": current.serves if current else None,
        "lock": _lock_text(seen, lease_s),
        "running_release": running.id if running else None,
        "canary": dict(running.canary) if running and running.canary else None,
        "unfinished_release": unfinished.id if unfinished else None,
        "last_known_good": last_good.id if last_good else None,
        "functions": functions,
        # Callers of the unqualified function run $LATEST, not what the alias serves.
        "bypassed": bypass_lines(env),
        # Known and left alone: never released here (status does not read them).
        "not_released": {
            **{
                env.function_name(f.name): "own package"
                for f in env.functions
                if f.package == "own"
            },
            **{u.name: f"unmanaged: {u.reason}" for u in env.unmanaged_functions},
        },
    }
    for line in status_lines(result):
        say(line)
    return result


def status_lines(result: Mapping[str, Any]) -> list[str]:
    running = result.get("running_release")
    current = result["current_release"] or (
        f"in transition (release {running} is being made)"
        if running
        else "unknown (the aliases match no recorded release)"
    )
    lines = [
        f"{result['env']}: release {current}",
        f"  lock: {result['lock'] or 'free'}",
    ]
    if running:
        canary = result.get("canary")
        lines.append(
            f"  release {running} is in progress (its run is alive and renews the lock)"
            + (f": a {canary['percent']:g}% canary" if canary else "")
        )
    if result["unfinished_release"]:
        lines.append(
            f"  WARNING: release {result['unfinished_release']} never finished (its run died); "
            f"last known good: {result['last_known_good'] or 'its before-state'}; the next "
            "deploy or rollback puts its functions back there"
        )
    for name, f in result["functions"].items():
        weights = "".join(f" +{v}@{w:.0%}" for v, w in sorted(f["weights"].items()))
        drift = f" ($LATEST differs: {', '.join(f['latest_drift'])})" if f["latest_drift"] else ""
        lines.append(
            f"  {name}: {f['alias'] or 'no alias'} -> {f['version'] or '$LATEST'}{weights}; "
            f"package {f['package'] or 'not in the store'}; layer "
            f"{f['layer_hash'] or f['deps_layer'] or 'none'}{drift}"
        )
        for caller in result.get("bypassed", {}).get(name, []):
            lines.append(f"    bypasses the alias: {caller}")
    for name, why in result.get("not_released", {}).items():
        lines.append(f"  {name}: not released here ({why})")
    return lines


def history_report(store: Store, env: Environment, *, limit: int, say: Any) -> dict[str, Any]:
    records = history.load_releases(store, env.name, limit=limit, warn=say)
    rows = [
        {
            "id": r.id,
            "kind": r.kind,
            "state": r.state,
            "serves": r.serves,
            "started_at": r.started_at,
            "ended_at": r.ended_at,
            "by": dict(r.by),
            "layer_hash": r.layer_hash,
            "package_key": r.package_key,
            "version": r.app_version,
            "error": r.error,
        }
        for r in records
    ]
    if not rows:
        where = store.location + artifacts.releases_prefix(env.name)
        say(f"no releases recorded for {env.name} yet (in {where})")
    for row in rows:
        target = (
            f"layer {row['layer_hash']}, package {row['package_key']}"
            if row["kind"] == "deploy"
            else f"back to {row['serves']}"
        )
        say(
            f"{row['id']}  {row['kind']:<8} {row['state']:<9} {target}"
            + (f"  [{row['error']}]" if row["error"] else "")
        )
    return {"env": env.name, "releases": rows}
