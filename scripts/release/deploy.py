"""`deploy`: publish (or reuse) the deps layer version and move every function onto it.

Order matters and is the point of this module: every check that can fail runs before the
first change (artifacts in the bucket, every function exists, a restore package exists
for each function's current code, the published layer's `CodeSha256`); only then are the
functions updated, in parallel, through `scripts.release.engine`, which restores all of them
if any one fails. Content-addressed keys only: the mutable `layer.zip`/`backend.zip` can
change under a running deploy (a racing build), `layer-HASH.zip` cannot.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import artifacts
from environments import Environment
from scripts import progress
from scripts.build import identity
from scripts.errors import BadInputError, ChecksumMismatchError, ToolError
from scripts.release.engine import (
    ApplyFailedError,
    CodeSource,
    Engine,
    FunctionMissingError,
    FunctionOutcome,
    FunctionState,
    FunctionTarget,
    Retry,
    replace_deps_layer,
)
from scripts.release.history import (
    DeploymentRecord,
    FunctionRecord,
    PackageIndex,
    load_records,
    manifest_code_sha256,
    read_json,
    write_record,
)
from scripts.store import Store

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

# Recorded in each version's description so a later deploy can recognise its own build.
HASH_IN_DESCRIPTION = re.compile(r"\bhash=(?P<hash>[0-9a-f]{16,64})\b")
# How many recent records are searched for the package of a function's current code.
RECENT_RECORDS = 20


@dataclass(frozen=True, kw_only=True)
class DeployTarget:
    """What to deploy, resolved from the store and checked before any change."""

    layer_hash: str
    layer: CodeSource
    package: CodeSource
    version: str | None

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[0-9a-f]{16,64}", self.layer_hash):
            raise ValueError(f"layer_hash: got {self.layer_hash!r}; expected lowercase hex")


def _s3(store: Store, name: str) -> tuple[str, str]:
    location = store.s3_location(name)
    if location is None:
        raise BadInputError(
            f"{store.location}: Lambda reads code from S3 only; deploy needs an s3:// store"
        )
    return location


def checked_artifact(store: Store, name: str, *, missing_hint: str) -> CodeSource:
    """A content-addressed zip and its manifest, both present and agreeing."""
    return _checked_artifact(store, name, missing_hint=missing_hint)[0]


def _checked_artifact(
    store: Store, name: str, *, missing_hint: str
) -> tuple[CodeSource, dict[str, Any]]:
    manifest = artifacts.manifest_of(name)
    info = store.head(name)
    if info is None or store.head(manifest) is None:
        missing = name if info is None else manifest
        raise ToolError(f"{store.location}{missing} is missing: {missing_hint}")
    manifest_data = read_json(store, manifest)
    expected = manifest_code_sha256(manifest_data)
    if expected is None:
        raise ToolError(f"{store.location}{manifest}: no code_sha256/sha256: {missing_hint}")
    if info.sha256_b64 is not None and info.sha256_b64 != expected:
        raise ChecksumMismatchError(
            f"{store.location}{name}: stored SHA-256 {info.sha256_b64} differs from its "
            f"manifest's {expected}: {missing_hint}"
        )
    bucket, key = _s3(store, name)
    return CodeSource(bucket=bucket, key=key, code_sha256=expected), manifest_data


def target_from_store(
    store: Store, env: Environment, *, layer_hash: str, package_hash: str
) -> DeployTarget:
    """Pre-check the built artifacts: `layer-HASH.zip`, `backend-HASH.zip` and manifests."""
    layer_name = artifacts.layer_zip(layer_hash)
    package_name = artifacts.package_zip(package_hash)
    layer = checked_artifact(store, layer_name, missing_hint="run build-layer first")
    package, manifest = _checked_artifact(
        store, package_name, missing_hint="run build-backend first"
    )
    version = manifest.get("version")
    return DeployTarget(
        layer_hash=layer_hash,
        layer=layer,
        package=package,
        version=str(version) if version is not None else None,
    )


def layer_versions(client: LambdaClient, layer_name: str) -> list[dict[str, Any]]:
    versions: list[dict[str, Any]] = []
    for page in client.get_paginator("list_layer_versions").paginate(LayerName=layer_name):
        versions.extend(dict(v) for v in page.get("LayerVersions", []))
    return versions


def ensure_layer_version(
    client: LambdaClient, env: Environment, target: DeployTarget
) -> tuple[str, bool]:
    """(layer version ARN, published): reuse the newest version if it is this build.

    A new version is checked against the manifest before any function sees it; a
    mismatch (a replaced object, an emulator publishing a missing key as empty) deletes
    the bad version again and aborts.
    """
    versions = layer_versions(client, env.layer_name)
    if versions:
        newest = max(versions, key=lambda v: int(v["Version"]))
        match = HASH_IN_DESCRIPTION.search(str(newest.get("Description", "")))
        if match and match["hash"] == target.layer_hash:
            current = client.get_layer_version(
                LayerName=env.layer_name, VersionNumber=int(newest["Version"])
            )
            if current.get("Content", {}).get("CodeSha256") == target.layer.code_sha256:
                return str(newest["LayerVersionArn"]), False
    published = client.publish_layer_version(
        LayerName=env.layer_name,
        Description=f"{env.name_prefix}-{env.name} deps hash={target.layer_hash}",
        Content={"S3Bucket": target.layer.bucket, "S3Key": target.layer.key},
        CompatibleRuntimes=[env.runtime],  # type: ignore[list-item]
        CompatibleArchitectures=[env.architecture],  # type: ignore[list-item]
    )
    arn = published["LayerVersionArn"]
    got = published.get("Content", {}).get("CodeSha256")
    if got != target.layer.code_sha256:
        # Never leave a wrong version as "newest": the next deploy would consider it.
        client.delete_layer_version(LayerName=env.layer_name, VersionNumber=published["Version"])
        raise ChecksumMismatchError(
            f"published {arn} reports CodeSha256 {got!r}, the manifest says "
            f"{target.layer.code_sha256}: version deleted, no function was changed; "
            "rebuild the layer (run build-layer)"
        )
    return arn, True


def record_functions(engine: Engine, env: Environment) -> dict[str, FunctionState]:
    try:
        return engine.record(env.function_names)
    except FunctionMissingError as err:
        raise ToolError(
            f"function {err.name} does not exist: run `cdktf deploy {env.name}` first"
        ) from err


def restore_sources(
    store: Store,
    recorded: Mapping[str, FunctionState],
    index: PackageIndex,
) -> dict[str, CodeSource]:
    """For each function, the content-addressed package holding its current code."""
    sources: dict[str, CodeSource] = {}
    for name, state in recorded.items():
        found = index.lookup(state.code_sha256)
        if found is not None:
            bucket, key = _s3(store, found)
            sources[name] = CodeSource(bucket=bucket, key=key, code_sha256=state.code_sha256)
    return sources


def require_restore_sources(
    recorded: Mapping[str, FunctionState],
    sources: Mapping[str, CodeSource],
    package: CodeSource | None,
) -> None:
    """Refuse before any change when a function's current code could not be put back.

    Lambda hands out only a short-lived URL for a function's code, so a restore needs the
    package in the store; code that matches no `backend-HASH.json` came from elsewhere.
    """
    if package is None:
        return
    missing = sorted(
        name
        for name, state in recorded.items()
        if state.code_sha256 != package.code_sha256 and name not in sources
    )
    if missing:
        raise ToolError(
            f"cannot guarantee a restore of {', '.join(missing)}: the code they run "
            f"(CodeSha256 {recorded[missing[0]].code_sha256}) matches no backend-HASH.json in "
            "the store; nothing was changed. Rebuild and upload that code with build-backend "
            "from its commit, then deploy again"
        )


def _function_records(
    recorded: Mapping[str, FunctionState],
    sources: Mapping[str, CodeSource],
    outcomes: Mapping[str, FunctionOutcome],
) -> dict[str, FunctionRecord]:
    return {
        name: FunctionRecord(
            before_code_sha256=state.code_sha256,
            before_layers=state.layers,
            before_package_key=sources[name].key if name in sources else None,
            status=outcomes[name].status.value if name in outcomes else "untouched",
            updated=outcomes[name].updated if name in outcomes else False,
            error=outcomes[name].error if name in outcomes else None,
        )
        for name, state in recorded.items()
    }


def apply_and_record(
    *,
    engine: Engine,
    store: Store,
    env: Environment,
    recorded: Mapping[str, FunctionState],
    targets: Mapping[str, FunctionTarget],
    sources: Mapping[str, CodeSource],
    record: DeploymentRecord,
    say: Callable[[str], None],
) -> tuple[dict[str, FunctionOutcome], str]:
    """Apply through the engine and store the record, failed or not (history is kept).

    Deploy and rollback both end here, so the step and its per-function lines are reported here.
    """
    with progress.step("functions"):
        try:
            outcomes = engine.apply(recorded=recorded, targets=targets, restore_code=sources)
        except ApplyFailedError as err:
            failed = replace(
                record,
                status="failed",
                functions=_function_records(recorded, sources, err.outcomes),
                error=str(err).splitlines()[0],
            )
            try:
                write_record(store, env, failed)
            except ToolError as record_err:
                raise ApplyFailedError(
                    f"{str(err).splitlines()[0]} (and the failure record was not written: "
                    f"{record_err})",
                    err.outcomes,
                ) from err
            raise
        done = replace(
            record, status="succeeded", functions=_function_records(recorded, sources, outcomes)
        )
        record_name = write_record(store, env, done)
    for outcome in outcomes.values():
        say(f"  {outcome.line()}")
    return outcomes, record_name


def deploy(
    *,
    env: Environment,
    lambda_client: LambdaClient,
    store: Store,
    target: DeployTarget,
    retry: Retry | None = None,
    max_workers: int | None = None,
    say: Callable[[str], None] = progress.say,
) -> dict[str, Any]:
    """Publish or reuse the layer, then bring all functions to the target; see module doc."""
    engine = Engine(
        client=lambda_client, retry=retry or Retry(), max_workers=max_workers, on_progress=say
    )
    with progress.step("read functions"):
        recorded = record_functions(engine, env)
    index = PackageIndex(store, [r for _, r in load_records(store, env, limit=RECENT_RECORDS)])
    sources = restore_sources(store, recorded, index)
    require_restore_sources(recorded, sources, target.package)
    with progress.step("layer version"):
        layer_arn, published = ensure_layer_version(lambda_client, env, target)
    say(f"  layer: {'published' if published else 'reusing'} {layer_arn}")
    targets = {
        name: FunctionTarget(
            code=target.package,
            layers=replace_deps_layer(state.layers, layer_name=env.layer_name, new_arn=layer_arn),
        )
        for name, state in recorded.items()
    }
    record = DeploymentRecord(
        kind="deploy",
        env=env.name,
        status="pending",
        version=target.version,
        layer_hash=target.layer_hash,
        layer_version_arn=layer_arn,
        published=published,
        package_key=target.package.key,
        package_code_sha256=target.package.code_sha256,
    )
    outcomes, record_name = apply_and_record(
        engine=engine,
        store=store,
        env=env,
        recorded=recorded,
        targets=targets,
        sources=sources,
        record=record,
        say=say,
    )
    return {
        "env": env.name,
        "layer_version_arn": layer_arn,
        "layer_hash": target.layer_hash,
        "published": published,
        "package_key": target.package.key,
        "version": target.version,
        "record": record_name,
        "functions": {name: o.to_json() for name, o in outcomes.items()},
    }


def current_hashes(env: Environment) -> tuple[str, str]:
    """(layer HASH, package HASH) of the checked-out lock and backend, as the builder names them.

    Recomputed from the files, not read from `layer.zip`: a lock changed without a rebuild
    must stop here ("run build-layer first"), not silently deploy the previous layer.
    """
    return identity.current_hashes(env)
