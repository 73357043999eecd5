"""`deploy`: a new release of every function -- layer and package -- behind its alias.

Every check that can fail runs before the first change: the package's bytes against its
manifest, the layer's manifest, every function exists in one account, a copy of the code
each function runs now (snapshotted into the store when none exists: functions on fat
packages). Then the layer version is published (or the newest reused when it is this
build), checked against the manifest, and the release runs (scripts.release.release).
Content-addressed keys only: `layer.zip`/`backend.zip` can change under a running deploy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import artifacts
from environments import Environment
from scripts.builder import identity
from scripts.callers import bypass_lines
from scripts.errors import BadInputError, ChecksumMismatchError
from scripts.release import dry_run, history, plan
from scripts.release.canary import Canary, preflight
from scripts.release.checks import Checks
from scripts.release.context import Context
from scripts.release.engine import FunctionRun, Step
from scripts.release.facts import CodeSource
from scripts.release.history import FunctionEntry, new_release_id
from scripts.release.layers import (
    LayerSource,
    ensure_layer_version,
    existing_layer_version,
    replace_deps_layer,
)
from scripts.release.release import release, session
from scripts.release.sources import Sources, manifest_code_sha256, s3_source
from scripts.release.steps import Switch, prepare_steps
from scripts.store.publish import read_manifest

# The newest records read for what each alias was left serving (each names every function).
KNOWN_FROM = 10


@dataclass(frozen=True, kw_only=True)
class DeployTarget:
    """What to deploy, resolved from the store and checked before any change."""

    layer: LayerSource | None  # None: keep each function's layers (a code-only rollback)
    package: CodeSource | None  # None: keep each function's code
    app_version: str | None = None
    layer_arn: str | None = None  # an existing version to attach instead of publishing
    # Said in every report of a release of this layer (e.g. built without hash checking).
    warnings: tuple[str, ...] = ()

    @property
    def package_key(self) -> str | None:
        """The package's S3 key (what Lambda reads and a person sees in the bucket)."""
        return self.package.key if self.package else None

    @property
    def package_name(self) -> str | None:
        """The package's name in the store (what records keep)."""
        return self.package.name if self.package else None


def target_from_store(
    sources: Sources, env: Environment, *, layer_hash: str, package_hash: str
) -> DeployTarget:
    """The built artifacts `layer-HASH.zip` and `backend-HASH.zip`, checked."""
    if not artifacts.HASH.match(layer_hash) or not artifacts.HASH.match(package_hash):
        raise BadInputError(f"hashes must be lowercase hex: {layer_hash!r}, {package_hash!r}")
    layer_name = artifacts.layer_zip(layer_hash)
    layer_manifest = sources.store.head(artifacts.manifest_of(layer_name))
    if layer_manifest is None or sources.store.head(layer_name) is None:
        raise BadInputError(
            f"{sources.store.location}{layer_name} (or its manifest) is missing: "
            f"run build-layer --env {env.name} first"
        )
    layer, warnings = _layer_source(sources, layer_name, layer_hash)
    package, manifest = sources.checked(
        artifacts.package_zip(package_hash), missing_hint=f"run build-backend --env {env.name}"
    )
    version = manifest.get("version")
    return DeployTarget(
        layer=layer,
        package=package,
        app_version=str(version) if version is not None else None,
        warnings=warnings,
    )


def _layer_source(
    sources: Sources, name: str, layer_hash: str
) -> tuple[LayerSource, tuple[str, ...]]:
    # The layer is tens of MB: its bytes are checked by Lambda itself (the CodeSha256 a
    # publish reports is compared with the manifest before any function sees the version).
    manifest = read_manifest(sources.store, artifacts.manifest_of(name)) or {}
    code_sha256 = manifest_code_sha256(manifest)
    if code_sha256 is None:
        raise BadInputError(f"{sources.store.location}{name}: its manifest has no sha256: rebuild")
    info = sources.store.head(name)
    if info is not None and info.sha256_b64 is not None and info.sha256_b64 != code_sha256:
        raise ChecksumMismatchError(
            f"{sources.store.location}{name}: stored SHA-256 {info.sha256_b64} differs from "
            f"its manifest's {code_sha256}: delete both and run build-layer"
        )
    source = s3_source(sources.store, name, code_sha256)
    warnings: tuple[str, ...] = ()
    if manifest.get("allow_unhashed"):
        unhashed = ", ".join(str(n) for n in manifest.get("unhashed") or []) or "some packages"
        warnings = (
            f"warning: layer {layer_hash} was built with --allow-unhashed: {unhashed} "
            "installed without hash checking",
        )
    layer = LayerSource(
        layer_hash=layer_hash, bucket=source.bucket, key=source.key, code_sha256=code_sha256
    )
    return layer, warnings


def current_hashes(env: Environment) -> tuple[str, str]:
    """(layer HASH, package HASH) of the checked-out lock and backend, as the builder names them.

    Recomputed from the files, not read from `layer.zip`: a lock changed without a rebuild
    must stop here ("run build-layer first"), not silently deploy the previous layer.
    """
    return identity.current_hashes(env)


def deploy(
    ctx: Context,
    target: DeployTarget,
    *,
    kind: str = "deploy",
    canary: Canary | None = None,
    wait_s: float = 0.0,
    smoke: bool = True,
) -> dict[str, Any]:
    """Prepare a version of every function holding the target, then switch the aliases.

    The environment's hooks run on the new versions before the switch and the functions'
    smoke checks after it (`smoke=False`: skipped, and the record says so)."""
    env = ctx.env
    sources = Sources(ctx.store)
    for warning in target.warnings:
        ctx.say(warning)
    bypassed = bypass_lines(env)
    for name, callers in bypassed.items():
        ctx.say(
            f"  {name}: {len(callers)} caller(s) invoke the unqualified function, so they get "
            f"this release at prepare, before the switch: {'; '.join(callers)} "
            f"(`migrate --env {env.name}` moves them to the alias)"
        )
    if canary is not None:
        preflight(ctx, canary)  # a missing or unreadable alarm: refused, nothing changed
    with session(ctx, command=kind, wait_s=wait_s):
        # Every served version's own code and layers are read (GetFunction, its own quota):
        # the record's before-state is what callers were served, never `$LATEST`'s.
        # Each alias as our last release left it (the record): its RevisionId guards the
        # switch, so no GetAlias is spent on the writes' 15/s budget.
        # (An unreadable record was already named by the session's own read of history.)
        records = history.load_releases(ctx.store, env.name, limit=KNOWN_FROM)
        befores = plan.read_before(
            ctx.api, env, env.released_function_names, known=history.known_aliases(records)
        )
        changing = [
            name
            for name, b in befores.items()
            if target.package and b.current.code_sha256 != target.package.code_sha256
        ]
        # A dry run snapshots nothing and publishes nothing (it plans with the version
        # that exists, else a placeholder the report calls "a new layer version").
        needed = [] if ctx.dry_run else changing
        copies = plan.code_copies(ctx.api, sources, befores, needed=needed)
        layer_arn, published = target.layer_arn, False
        if target.layer is not None and ctx.dry_run:
            layer_arn = existing_layer_version(
                ctx.api.client, env, target.layer
            ) or dry_run.new_layer_arn(env, plan.place(befores))
        elif target.layer is not None:
            layer_arn, published = ensure_layer_version(ctx.api.client, env, target.layer)
            ctx.say(f"  layer: {'published' if published else 'reusing'} {layer_arn}")
        checks = Checks(
            env=env, client=ctx.invoker or ctx.api.client, smoke_enabled=smoke, say=ctx.say
        )
        record_id = new_release_id()
        description = f"release {record_id}"
        runs: dict[str, FunctionRun] = {}
        entries: dict[str, FunctionEntry] = {}
        prepare: dict[str, list[Step]] = {}
        switch: dict[str, list[Step]] = {}
        for name, before in befores.items():
            code = target.package.code_sha256 if target.package else before.current.code_sha256
            layers = (
                replace_deps_layer(
                    before.current.layers,
                    layer_name=env.layer_name,
                    new_arn=layer_arn,
                    foreign=env.foreign_deps_layers,
                )
                if layer_arn
                else before.current.layers
            )
            copy, snapshot = copies.get(name, (None, False))
            facts = plan.facts_for(env, before, description=description, restore=copy)
            if not plan.already_serving(before, code_sha256=code, layers=layers):
                facts.target_code = target.package if code != before.current.code_sha256 else None
                facts.target_layers = layers if layers != before.current.layers else None
                facts.canary_weight = canary.weight if canary else None
                prepare[name] = prepare_steps(facts)
                switch[name] = [Switch()]
            runs[name] = plan.new_run(ctx.api, name, facts)
            entries[name] = plan.entry(
                before,
                code_key=copy.name if copy else None,
                snapshot=snapshot,
                target_code=code,
                target_layers=layers,
                target_key=target.package_name,
                target_version=None if name in switch else before.served_version,
            )
        record = plan.new_record(
            env,
            kind=kind,
            functions=entries,
            release_id=record_id,
            layer_hash=target.layer.layer_hash if target.layer else None,
            layer_version_arn=layer_arn,
            layer_published=published,
            package_key=target.package_name,
            app_version=target.app_version,
            canary=canary.to_json() if canary else None,
            bypassed=bypassed,
            checks=checks.to_json(),
        )
        result = release(
            ctx,
            record=record,
            runs=runs,
            prepare=prepare,
            switch=switch,
            canary=canary,
            checks=checks,
        )
    return {
        **result,
        "layer_version_arn": layer_arn,
        "layer_hash": target.layer.layer_hash if target.layer else None,
        "published": published,
        "package_key": target.package_key,
        "version": target.app_version,
        "warnings": list(target.warnings),
        "bypassed": bypassed,
    }
