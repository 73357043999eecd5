"""Phase 2 of the migration: the layer and the package built, every handler shown to
import from package + layer alone, then the first release onto the legacy functions.

Done when every alias serves a version whose code is a built package (not a fat package
or a snapshot of one) and whose layers hold this environment's deps layer. With --apply,
migrate does what is missing: build (cache hits when already built), import-check every
handler locally under the runtime's Python, then deploy (which snapshots the fat packages
first, so `rollback --previous` returns to them exactly).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import artifacts
from scripts.builder.backend import PackageSource, build_backend
from scripts.builder.install_requests import layer_request
from scripts.builder.layer import build_layer
from scripts.local.invoke import InvokeRequest, invoke
from scripts.migration.phases import Phase, State
from scripts.release import plan
from scripts.release.context import Context
from scripts.release.deploy import current_hashes, deploy, target_from_store
from scripts.release.layers import deps_layer_of
from scripts.release.sources import Sources
from scripts.store import LocalStore

TITLE = "bootstrap (build, check the handlers, first release onto the legacy functions)"


@dataclass(frozen=True, kw_only=True)
class BuildInputs:
    build_dir: Path
    index_args: tuple[str, ...] = ()
    # Where the handler check builds (or finds) the layer to import from.
    check_store: LocalStore | None = None


def migrated(ctx: Context) -> tuple[list[str], list[str]]:
    """(functions already on package + layer, functions still on something else)."""
    befores = plan.read_before(ctx.api, ctx.env, ctx.env.released_function_names)
    sources = Sources(ctx.store)
    done: list[str] = []
    left: list[str] = []
    for name, before in befores.items():
        served = before.served
        found = sources.find(served.code_sha256) if served else None
        on_package = bool(found and artifacts.PACKAGE_ZIP.match(found.name))
        on_layer = bool(served and deps_layer_of(served.layers, ctx.env.layer_name))
        (done if on_package and on_layer else left).append(name)
    return done, left


def check_handlers(ctx: Context, inputs: BuildInputs) -> list[str]:
    """Import every handler with only the package and the layer on the path."""
    store = inputs.check_store or LocalStore(inputs.build_dir / "migrate-store")
    checked = []
    for function in ctx.env.released_functions:
        invoke(
            InvokeRequest(
                env=ctx.env,
                function=function.name,
                event={},
                store=store,
                build_dir=inputs.build_dir,
                index_args=inputs.index_args,
                import_only=True,
            )
        )
        checked.append(f"{function.name}: {function.handler} imports from package + layer")
    return checked


def bootstrap(
    ctx: Context,
    inputs: BuildInputs,
    *,
    ready: bool,
    apply: bool,
    waiting: str = "phase 1 is done (the aliases must exist)",
) -> Phase:
    started = time.perf_counter()
    done, left = migrated(ctx)
    if not left:
        checked = [f"every alias serves a built package on the deps layer ({len(done)})"]
        checked += check_handlers(ctx, inputs)
        return Phase(
            number=2,
            title=TITLE,
            state=State.DONE,
            checked=tuple(checked),
            seconds=time.perf_counter() - started,
        )
    checked = [f"still on their old code or layers: {', '.join(left)}"]
    if not ready:
        return Phase(
            number=2,
            title=TITLE,
            state=State.TODO,
            checked=tuple(checked),
            next=f"not before {waiting}",
            seconds=time.perf_counter() - started,
        )
    if not apply:
        return Phase(
            number=2,
            title=TITLE,
            state=State.TODO,
            checked=tuple(checked),
            next=f"python -m scripts migrate --env {ctx.env.name} --apply (builds, checks every "
            "handler, then deploys; the old code is snapshotted first and `rollback "
            "--previous` returns to it)",
            seconds=time.perf_counter() - started,
        )
    env = ctx.env
    layer = build_layer(
        layer_request(env, build_dir=inputs.build_dir, index_args=inputs.index_args), ctx.store
    )
    package = build_backend(
        source=PackageSource.resolve(env.backend_dir, env.backend.package, environment=env.name),
        store=ctx.store,
        build_dir=inputs.build_dir,
        functions=env.released_functions,
    )
    checked.append(f"layer {layer.manifest['hash']} and package {package.hash} in the store")
    checked += check_handlers(ctx, inputs)
    layer_hash, package_hash = current_hashes(env)
    release = deploy(
        ctx,
        target_from_store(
            Sources(ctx.store), env, layer_hash=layer_hash, package_hash=package_hash
        ),
    )
    checked.append(f"release {release['release']}: {release['state']}")
    done, left = migrated(ctx)
    return Phase(
        number=2,
        title=TITLE,
        state=State.DONE if not left else State.FAILED,
        checked=tuple(checked),
        next="" if not left else f"still not migrated: {', '.join(left)}: see `status`",
        seconds=time.perf_counter() - started,
        details={"release": release["release"]},
    )
