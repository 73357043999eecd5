"""`rollback`: back to an earlier release by moving aliases -- no upload, no publish.

`--previous` goes one release back from what callers are served (scripts.release.walk);
when this command first resolved a run that died with callers on a mixture, the
resolution already put them back on the last release they were all served. `--to ID`
goes to a recorded release. `--layer-version`/`--package-key` prepare a new release from
those inputs (the deploy path). Every target is validated before any write: the record's
environment and functions, each layer's partition, region, account and name, and each
version still holding the code and layers the record says.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

import artifacts
from environments import Environment
from scripts.callers import bypassed_functions
from scripts.errors import BadInputError
from scripts.release import history, plan
from scripts.release.context import Context
from scripts.release.deploy import DeployTarget, deploy
from scripts.release.engine import FunctionRun, Step
from scripts.release.history import FunctionEntry, FunctionState, ReleaseRecord
from scripts.release.lambda_api import Version, error_code
from scripts.release.latest_restore import plan_latest, with_latest
from scripts.release.layers import check_layer_arn, layer_name_of
from scripts.release.release import release, session
from scripts.release.sources import Sources
from scripts.release.steps import Baseline, Pin, Switch, needs_pin
from scripts.release.walk import (
    BEFORE,
    by_id,
    legacy_states,
    previous_target,
    serving_release,
    unchanged_since,
)

HISTORY = 200


@dataclass(frozen=True, kw_only=True)
class RollbackRequest:
    """Exactly one of: `previous`, `to`, or a layer version and/or a package key."""

    previous: bool = False
    to: str | None = None
    layer_version: str | None = None
    package_key: str | None = None

    def __post_init__(self) -> None:
        chosen = [self.previous, bool(self.to), bool(self.layer_version or self.package_key)]
        if sum(chosen) != 1:
            raise BadInputError(
                "choose one target: --previous, --to RELEASE_ID, or --layer-version N "
                "and/or --package-key KEY"
            )


def check_package_argument(value: str, env: Environment) -> str:
    """Pure: the store name of a content-addressed package (`backend-HASH.zip`)."""
    name = value.removeprefix(env.key_prefix)
    if not artifacts.is_code_artifact(name):
        raise BadInputError(
            f"--package-key {value!r}: not a content-addressed package; use "
            f"{env.key_prefix}backend-HASH.zip (the mutable backend.zip can change under you)"
        )
    return name


def validate(
    env: Environment,
    ctx: Context,
    target: Mapping[str, FunctionState],
    befores: Mapping[str, plan.Before],
    *,
    recorded: Collection[str] = (),
) -> None:
    """Refuse a target naming other functions, layers elsewhere, or versions that changed.

    `recorded`: functions whose target version is taken as the record says, unread (see
    `walk.unchanged_since`); their switch checks it if the alias turns out to have changed."""
    partition, region, account = plan.place(befores)
    foreign = sorted(set(target) - set(env.released_function_names))
    if foreign:
        raise BadInputError(f"the target names functions outside {env.name}: {', '.join(foreign)}")
    found = _target_versions(ctx, {n: s for n, s in target.items() if n not in recorded})
    for name, state in target.items():
        before = befores[name]
        allowed = set(_extra_layers(env, name)) | set(before.served.layers if before.served else ())
        if before.latest is not None:
            allowed |= set(before.latest.layers)
        for arn in state.layers:
            if layer_name_of(arn) in env.deps_layer_names or arn not in allowed:
                check_layer_arn(
                    arn,
                    env,
                    partition=partition,
                    region=region,
                    account=account,
                    foreign_ok=True,
                )
        if state.version is None:
            raise BadInputError(f"{name}: the target names no version")
        if name in recorded:
            continue
        version = found.get(name)
        if version is None:
            raise BadInputError(f"{name}: version {state.version} no longer exists (pruned?)")
        if (version.code_sha256, version.layers) != (state.code_sha256, state.layers):
            raise BadInputError(
                f"{name}: version {state.version} holds code {version.code_sha256} and layers "
                f"{list(version.layers)}, the record says {state.code_sha256} and "
                f"{list(state.layers)}: refusing a record that does not match Lambda"
            )


def _target_versions(
    ctx: Context, target: Mapping[str, FunctionState]
) -> dict[str, Version | None]:
    """Each target version as Lambda has it, read in parallel (GetFunction: its own budget)."""
    named = [(name, state.version) for name, state in target.items() if state.version]
    workers = max(1, min(len(named), ctx.timing.lambda_workers))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        read = pool.map(lambda item: (item[0], ctx.api.version(*item)), named)
        return dict(read)


def _extra_layers(env: Environment, name: str) -> tuple[str, ...]:
    for config, full in zip(env.functions, env.function_names, strict=True):
        if full == name:
            return tuple(config.extra_layers)
    return ()


def rollback(ctx: Context, request: RollbackRequest, *, wait_s: float = 0.0) -> dict[str, Any]:
    env = ctx.env
    if request.layer_version or request.package_key:
        return _from_inputs(ctx, request, wait_s=wait_s)
    if request.to is not None and not re.fullmatch(r"[0-9TZ.]+-[0-9a-f]{8}", request.to):
        raise BadInputError(
            f"--to {request.to!r}: not a release id (see `history --env {env.name}`)"
        )
    with session(ctx, command="rollback", wait_s=wait_s):
        records = history.load_releases(ctx.store, env.name, limit=HISTORY, warn=ctx.say)
        recorded: set[str] = set()
        # The served versions' own code and layers are the record's before-state (GetFunction:
        # its own quota, not the writes').
        # Each alias as the last release left it, when it still serves that version
        # (GetFunction on the alias, its own budget): no GetAlias, and no `$LATEST` read
        # where only the alias moves; the switch's RevisionId guard checks the rest.
        befores = plan.read_before(
            ctx.api,
            env,
            env.released_function_names,
            known=history.known_aliases(records),
            latest=False,
        )
        befores = with_latest(ctx, befores)
        if request.to is not None:
            chosen = by_id(records, request.to)
            if chosen is None or not chosen.succeeded:
                raise BadInputError(f"--to {request.to}: no succeeded release with that id")
            if chosen.env != env.name:
                raise BadInputError(f"--to {request.to}: a release of {chosen.env}, not {env.name}")
            target = {name: entry.target for name, entry in chosen.functions.items()}
            serves = chosen.serves
        elif ctx.put_back is not None:
            return _settled_by_resolution(ctx, ctx.put_back.id, records, befores)
        else:
            target, serves, base = previous_target(records, befores)
            if base.legacy_before and serves.startswith(BEFORE):
                target = legacy_states(ctx, target, base)
            else:
                recorded = unchanged_since(records, base, befores, target)
        validate(env, ctx, target, befores, recorded=recorded)
        # Callers of the unqualified function run $LATEST: it goes back too (for them).
        latest = plan_latest(ctx, befores, target)
        rid = history.new_release_id()
        runs: dict[str, FunctionRun] = {}
        prepare: dict[str, list[Step]] = {}
        switch: dict[str, list[Step]] = {}
        entries: dict[str, FunctionEntry] = {}
        for name, state in target.items():
            before = befores[name]
            facts = plan.facts_for(env, before, description=f"release {rid}", restore=None)
            facts.target_version = state.version
            if name in recorded:
                facts.target_holds = (state.code_sha256, state.layers)
            restore = latest.get(name)
            if needs_pin(before.alias):
                prepare[name] = [Baseline(), Pin()]
            if restore is not None:
                restore.apply_to(facts)
                prepare[name] = [*prepare.get(name, []), *restore.steps]
            if before.alias_version != state.version or (before.alias and before.alias.weights):
                switch[name] = [Switch()]
            runs[name] = plan.new_run(ctx.api, name, facts)
            entries[name] = plan.entry(
                before,
                code_key=restore.undo.name if restore and restore.undo else None,
                snapshot=bool(restore and restore.snapshot),
                target_code=state.code_sha256,
                target_layers=state.layers,
                target_key=state.code_key,
                target_version=state.version,
            )
        record = plan.new_record(
            env,
            kind="rollback",
            functions=entries,
            release_id=rid,
            serves=serves,
            bypassed={n: [c.line() for c in found] for n, found in bypassed_functions(env).items()},
        )
        result = release(ctx, record=record, runs=runs, prepare=prepare, switch=switch)
    return {**result, "serves": serves}


def _settled_by_resolution(
    ctx: Context,
    died: str,
    records: Sequence[ReleaseRecord],
    befores: Mapping[str, plan.Before],
) -> dict[str, Any]:
    """A run died with callers on a mixture (a switch or a canary midway); resolving it put
    every alias back to the last release they were all served: that is the previous one."""
    current = serving_release(records, befores)
    ctx.say(
        f"  release {died} died with callers served partly by it; every alias is back on "
        + (f"release {current.serves}" if current else "the state before it")
        + ", the last they were all served: nothing further to roll back"
    )
    return {
        "env": ctx.env.name,
        "release": None,
        "state": "unchanged",
        "functions": {},
        "serves": current.serves if current else None,
        "resolved": died,
    }


def _from_inputs(ctx: Context, request: RollbackRequest, *, wait_s: float) -> dict[str, Any]:
    env = ctx.env
    package_name = check_package_argument(request.package_key, env) if request.package_key else None
    layer_arn: str | None = None
    if request.layer_version:
        layer_arn = _resolve_layer(ctx, request.layer_version)
    package = None
    if package_name is not None:
        package, _ = Sources(ctx.store).checked(
            package_name, missing_hint="that package is not in the store"
        )
    result = deploy(
        ctx,
        DeployTarget(layer=None, layer_arn=layer_arn, package=package),
        kind="rollback",
        wait_s=wait_s,
    )
    return result


def _resolve_layer(ctx: Context, value: str) -> str:
    env = ctx.env
    first = plan.read_before(ctx.api, env, env.released_function_names[:1])
    partition, region, account = plan.place(first)
    if re.fullmatch(r"[1-9]\d{0,9}", value):
        arn = f"arn:{partition}:lambda:{region}:{account}:layer:{env.layer_name}:{value}"
    else:
        arn = value
    ref = check_layer_arn(arn, env, partition=partition, region=region, account=account)
    try:
        found = ctx.api.client.get_layer_version(
            LayerName=env.layer_name, VersionNumber=ref.version
        )
    except ClientError as err:
        if error_code(err) != "ResourceNotFoundException":
            raise
        raise BadInputError(
            f"layer {env.layer_name} has no version {ref.version} (pruned?): list versions with "
            "`aws lambda list-layer-versions`"
        ) from err
    return str(found["LayerVersionArn"])
