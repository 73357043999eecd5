"""`build-layer`: the dependencies layer, rebuilt only when its inputs change.

Flow: read the lock for the target (markers evaluated for Lambda's runtime and CPU, hash
policy applied), compute the cache key, look for `layer-HASH.zip` in the store before
installing anything, and only on a miss: find the runtime's interpreter for bytecode,
install Linux wheels, prune, compile, zip byte-identically, check Lambda's size limit,
then upload verified and write the manifest last (scripts/build/layer_publish.py).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import artifacts
from scripts import progress
from scripts.build.budget import LAMBDA_UNZIPPED_LIMIT, check_budget
from scripts.build.build_cache import BuildCache, open_cache
from scripts.build.bytecode import INVALIDATION, Interpreter, compile_tree, find_interpreter
from scripts.build.cache_key import FORMAT_VERSION, LayerIdentity, layer_identity
from scripts.build.layer_model import DEFAULT_MANIFEST, LayerRequest, LayerResult
from scripts.build.layer_publish import (
    point_latest_at_hit,
    publish_layer,
    report_hit,
    write_local_manifest,
)
from scripts.build.layout import LAYER_ROOT, distribution_sizes
from scripts.build.layout import prune as prune_tree
from scripts.build.lockfile import check_hashes, installer_requirements
from scripts.build.wheels import install_wheels, installed_distributions, unpinned_installs
from scripts.build.zipping import ZipResult, collect_files, total_size, write_zip
from scripts.errors import BadInputError
from scripts.store import Store, check_writable, hex_to_b64
from scripts.store.publish import object_key, read_manifest

__all__ = ["DEFAULT_MANIFEST", "LayerRequest", "LayerResult", "build_layer", "scratch_root"]


def _install(
    request: LayerRequest, identity: LayerIdentity, work: Path, hashed: bool
) -> dict[str, str]:
    site = work / LAYER_ROOT
    platform = identity.platform
    requirements = work / "requirements.txt"
    requirements.write_text(installer_requirements(identity.pins), encoding="utf-8")
    with progress.step(
        f"install {len(identity.pins.pins)} wheels for {platform.platform_tag}, "
        f"Python {platform.python_version}",
        heartbeat_s=5,
    ):
        install_wheels(
            requirements=requirements,
            target=site,
            platform=platform,
            require_hashes=hashed,
            index_args=request.index_args,
            uv=request.uv,
            python=request.installer_python,
            source=request.lock.lock_file,
        )
    installed = installed_distributions(site)
    problems = unpinned_installs(installed, identity.pins.versions())
    if problems:
        raise BadInputError(
            f"{request.lock.lock_file} is incomplete: {'; '.join(problems)}: lock again"
        )
    with progress.step("prune installer files and scripts"):
        removed = prune_tree(site, request.prune)
    progress.say(f"  pruned {len(removed)} paths")
    return installed


def _compile(
    site: Path, interpreter: Interpreter | None, cache: BuildCache | None
) -> dict[str, Any] | None:
    if interpreter is None:
        return None
    with progress.step(f"compile bytecode with Python {interpreter.version}", heartbeat_s=5):
        count = compile_tree(site, interpreter, cache=cache)
    pyc_bytes = sum(path.stat().st_size for path in site.rglob("*.pyc"))
    return {
        "python": interpreter.version,
        "invalidation": INVALIDATION,
        "pyc_files": count,
        "pyc_bytes": pyc_bytes,
    }


def build_layer(request: LayerRequest, store: Store) -> LayerResult:
    """The layer for `request`: the stored one when its hash is there (a cache hit), else
    installed, compiled, checked against Lambda's size limit, zipped and uploaded."""
    identity = layer_identity(
        request.lock,
        runtime=request.runtime,
        architecture=request.architecture,
        bytecode=request.bytecode,
        prune=request.prune,
    )
    unhashed = check_hashes(identity.pins, allow_unhashed=request.allow_unhashed)
    platform = identity.platform
    progress.say(
        f"  cache key {identity.hash} ({platform.runtime}, {platform.platform_tag}, "
        f"{len(identity.pins.pins)} pins from {identity.pins.lock_format} lock, "
        f"bytecode {'on' if request.bytecode else 'off'})"
    )
    if unhashed:
        progress.say(f"  warning: --allow-unhashed: no hash checking for {', '.join(unhashed)}")
    hit = _cache_hit(request, store, identity.hash)
    if hit is not None:
        return hit
    # Before any install: a missing interpreter or an unwritable store must not cost a
    # download first.
    interpreter = find_interpreter(platform.python_version) if request.bytecode else None
    check_writable(store)
    try:
        request.build_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise BadInputError(
            f"--build-dir {request.build_dir}: cannot create ({err.strerror}): choose a "
            "writable directory"
        ) from None
    built, installed, bytecode, top = _build_zip(request, identity, interpreter, unhashed)
    manifest = _manifest(
        request=request,
        store=store,
        identity=identity,
        built=built,
        bytecode=bytecode,
        unhashed=unhashed,
        installed=installed,
    )
    updated = publish_layer(store, zip_path=built.path, manifest=manifest, latest=request.latest)
    write_local_manifest(request.manifest_path, manifest)
    return LayerResult(
        manifest=manifest,
        built=True,
        latest_updated=updated,
        latest_skipped=request.latest.reason,
        store=store.location,
        manifest_path=request.manifest_path,
        largest_packages=top,
        zip_path=built.path,
    )


def _cache_hit(request: LayerRequest, store: Store, layer_hash: str) -> LayerResult | None:
    """The stored layer of this hash with its manifest, `layer.zip` moved to it if allowed."""
    zip_name = artifacts.layer_zip(layer_hash)
    with progress.step(f"look up {zip_name} in {store.location}"):
        existing = store.head(zip_name)
        stored = (
            read_manifest(store, artifacts.layer_manifest(layer_hash))
            if existing is not None
            else None
        )
    if existing is None:
        return None
    if stored is None:
        progress.say(
            f"  {zip_name} is in the store without its manifest (interrupted or racing build): "
            "building to verify it"
        )
        return None
    report_hit(stored, zip_name)
    updated = point_latest_at_hit(
        store,
        layer_hash=layer_hash,
        manifest=stored,
        code_sha256=existing.sha256_b64,
        build_dir=request.build_dir,
        latest=request.latest,
    )
    write_local_manifest(request.manifest_path, stored)
    return LayerResult(
        manifest=stored,
        built=False,
        latest_updated=updated,
        latest_skipped=request.latest.reason,
        store=store.location,
        manifest_path=request.manifest_path,
    )


def _build_zip(
    request: LayerRequest,
    identity: LayerIdentity,
    interpreter: Interpreter | None,
    unhashed: list[str],
) -> tuple[ZipResult, dict[str, str], dict[str, Any] | None, list[tuple[str, int]]]:
    """Install, compile, check the size budget and zip, in a scratch folder removed after:
    (the zip, installed distributions, bytecode facts, the largest packages)."""
    work = Path(tempfile.mkdtemp(prefix="layer-", dir=request.scratch_dir or request.build_dir))
    try:
        installed = _install(request, identity, work, hashed=not unhashed)
        cache = open_cache()
        bytecode = _compile(work / LAYER_ROOT, interpreter, cache)
        files = collect_files(work / LAYER_ROOT, prefix=f"{LAYER_ROOT}/")
        if not files:
            raise BadInputError(f"{request.lock.lock_file}: no packages to put in a layer")
        top = check_budget(
            layer_bytes=total_size(files),
            function_bytes=request.function_bytes,
            limit=request.size_limit,
            sizes=distribution_sizes(work / LAYER_ROOT),
            bytecode_bytes=0 if bytecode is None else bytecode["pyc_bytes"],
        )
        zip_name = artifacts.layer_zip(identity.hash)
        with progress.step(f"zip {len(files)} files"):
            built = write_zip(files, request.build_dir / zip_name, cache=cache)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return built, installed, bytecode, top


def _manifest(
    *,
    request: LayerRequest,
    store: Store,
    identity: LayerIdentity,
    built: ZipResult,
    bytecode: dict[str, Any] | None,
    unhashed: list[str],
    installed: dict[str, str],
) -> dict[str, Any]:
    platform = identity.platform
    zip_name = artifacts.layer_zip(identity.hash)
    return {
        "hash": identity.hash,
        "cache_key": identity.key,
        "format_version": FORMAT_VERSION,
        "key": object_key(store, zip_name, request.key_prefix),
        # None when this build may not move layer.zip (another runtime or architecture).
        "latest_key": (
            object_key(store, artifacts.LAYER_LATEST, request.key_prefix)
            if request.latest.update
            else None
        ),
        "manifest_key": object_key(
            store, artifacts.layer_manifest(identity.hash), request.key_prefix
        ),
        "sha256": built.sha256,
        "code_sha256": hex_to_b64(built.sha256),
        "zip_bytes": built.zip_bytes,
        "unzipped_bytes": built.unzipped_bytes,
        "runtime": platform.runtime,
        "architecture": platform.architecture,
        "platform_tag": platform.platform_tag,
        "python_version": platform.python_version,
        "lock_file": request.lock.lock_file.name,
        "lock_format": identity.pins.lock_format,
        "bytecode": bytecode,
        "allow_unhashed": bool(unhashed),
        "unhashed": unhashed,
        "packages": dict(sorted(installed.items())),
    }


RAM_DISK = Path("/dev/shm")  # noqa: S108 (only a parent: mkdtemp makes the folder)


def scratch_root(
    candidate: Path = RAM_DISK, *, needed_bytes: int = 2 * LAMBDA_UNZIPPED_LIMIT
) -> Path | None:
    """A RAM disk for the install when there is one with room, else None (build_dir).

    The install is thousands of files written, read once by the zipper, then deleted.
    On a disk mounted with `discard` each unlink costs ~1.5 ms (4.8 s of a 9.4 s build
    measured here); on tmpfs the whole tree goes in milliseconds. Room for twice the
    Lambda limit, since containers often mount a 64 MB /dev/shm.
    """
    try:
        if not (candidate.is_dir() and os.access(candidate, os.W_OK | os.X_OK)):
            return None
        free = shutil.disk_usage(candidate).free
    except OSError:
        return None
    return candidate if free >= needed_bytes else None
