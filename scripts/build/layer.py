"""`build-layer`: the dependencies layer, rebuilt only when its inputs change.

Flow: check the requirements against the lock, compute the cache key, look for
`layer-HASH.zip` in the store before installing anything, and only on a miss install
Linux wheels for the runtime, prune, zip byte-identically, check Lambda's size limit, then
upload verified. The manifest (`layer-HASH.json`) is written last: it is the commit mark
that makes a stored zip a cache hit, and deploy checks Lambda's `CodeSha256` against it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import artifacts
from scripts import progress
from scripts.build.backend import (
    backend_unzipped_bytes,
)
from scripts.build.cache_key import FORMAT_VERSION, cache_key, read_input, short_hash
from scripts.build.layout import (
    DEFAULT_PRUNE,
    LAYER_ROOT,
    PruneOptions,
    distribution_sizes,
    largest,
)
from scripts.build.layout import prune as prune_tree
from scripts.build.wheels import (
    TargetPlatform,
    install_wheels,
    installed_distributions,
    parse_poetry_lock,
    parse_requirements,
    pin_differences,
    target_platform,
    unpinned_installs,
)
from scripts.build.zipping import collect_files, total_size, write_zip
from scripts.errors import BadInputError, ChecksumMismatchError
from scripts.store import Store, hex_to_b64, sha256_file
from scripts.store.publish import (
    manifest_bytes,
    object_key,
    put_content_addressed,
    put_latest,
    put_manifest,
    read_manifest,
)

# Lambda: function code plus all its layers, unzipped, at most 250 MB.
LAMBDA_UNZIPPED_LIMIT = 262_144_000
WARN_FRACTION = 0.8
DEFAULT_MANIFEST = Path("build") / "layer-manifest.json"


class SizeBudgetError(BadInputError):
    """The dependencies do not fit Lambda's unzipped limit (fix: drop or slim packages)."""


@dataclass(frozen=True, kw_only=True)
class LayerRequest:
    lock_file: Path
    requirements_file: Path
    runtime: str
    architecture: str
    build_dir: Path
    manifest_path: Path = DEFAULT_MANIFEST
    # Its unzipped size counts against the same limit: the largest function package.
    backend_dir: Path | None = None
    prune: PruneOptions = DEFAULT_PRUNE
    size_limit: int = LAMBDA_UNZIPPED_LIMIT
    # Extra installer arguments, e.g. ("--no-index", "--find-links", DIR) for offline builds.
    index_args: tuple[str, ...] = ()
    uv: str | None = None
    # Prefix for reported keys when the store is a directory (S3 stores know their keys).
    key_prefix: str = ""
    # Where the install is staged before zipping (a temporary folder is made and removed
    # inside it); None: inside build_dir. See `scratch_root` for why a RAM disk helps.
    scratch_dir: Path | None = None

    def __post_init__(self) -> None:
        if self.size_limit <= 0:
            raise ValueError(f"size_limit: got {self.size_limit}; must be positive")


@dataclass(frozen=True, kw_only=True)
class LayerResult:
    manifest: Mapping[str, Any]
    built: bool
    latest_updated: bool
    store: str
    manifest_path: Path
    largest_packages: Sequence[tuple[str, int]] = field(default_factory=tuple)
    zip_path: Path | None = None

    def as_json(self) -> Mapping[str, Any]:
        return {
            **self.manifest,
            "built": self.built,
            "latest_updated": self.latest_updated,
            "store": self.store,
            "manifest": str(self.manifest_path),
            "largest_packages": [
                {"name": name, "bytes": size} for name, size in self.largest_packages
            ],
            "path": None if self.zip_path is None else str(self.zip_path),
        }


def check_pins(lock_text: str, requirements_text: str, *, lock: Path, requirements: Path) -> bool:
    """Refuse requirements that disagree with the lock; returns whether they carry hashes."""
    parsed = parse_requirements(requirements_text, source=str(requirements))
    locked = parse_poetry_lock(lock_text, source=str(lock))
    differences = pin_differences(locked, parsed.pins)
    if differences:
        raise BadInputError(
            f"{requirements} does not match {lock} ({len(differences)} differences: "
            f"{'; '.join(differences)}): re-export with "
            "`poetry export -f requirements.txt -o requirements.txt`"
        )
    return parsed.hashed


def check_budget(
    *,
    layer_bytes: int,
    function_bytes: int,
    limit: int,
    sizes: Mapping[str, int],
) -> list[tuple[str, int]]:
    """Fail when layer plus the largest function package exceeds the limit; warn near it."""
    top = largest(sizes, 10)
    listing = ", ".join(f"{name} {size / 1e6:.1f} MB" for name, size in top)
    total = layer_bytes + function_bytes
    progress.say(
        f"  size: layer {layer_bytes:,} + function package {function_bytes:,} = {total:,} "
        f"of {limit:,} bytes ({100 * total / limit:.0f}%)"
    )
    progress.say(f"  largest packages: {listing}")
    if total > limit:
        raise SizeBudgetError(
            f"layer ({layer_bytes:,} bytes unzipped) plus the largest function package "
            f"({function_bytes:,}) is {total:,} bytes, over Lambda's {limit:,}-byte limit: "
            f"remove or slim dependencies; largest: {listing}"
        )
    if total > WARN_FRACTION * limit:
        progress.say(
            f"warning: {100 * total / limit:.0f}% of Lambda's unzipped limit used; "
            f"largest: {listing}"
        )
    return top


def _write_local_manifest(path: Path, manifest: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(manifest_bytes(manifest))
    tmp.replace(path)


def _cache_hit(
    store: Store,
    request: LayerRequest,
    layer_hash: str,
    manifest: Mapping[str, Any],
    code_sha256: str | None,
) -> LayerResult:
    zip_name = artifacts.layer_zip(layer_hash)
    if code_sha256 != manifest.get("code_sha256"):
        raise ChecksumMismatchError(
            f"{zip_name}: stored checksum {code_sha256} differs from its manifest "
            f"{manifest.get('code_sha256')}: delete {zip_name} and "
            f"{artifacts.layer_manifest(layer_hash)} from the store and rebuild"
        )
    latest = store.head(artifacts.LAYER_LATEST)
    latest_updated = False
    if latest is None or latest.sha256_b64 != code_sha256:
        # layer.zip is "the newest build" for Terraform: point it back at this one.
        request.build_dir.mkdir(parents=True, exist_ok=True)
        local = request.build_dir / zip_name
        with progress.step(f"copy {zip_name} to {artifacts.LAYER_LATEST}"):
            store.download(zip_name, local)
            sha = sha256_file(local)
            if sha != manifest.get("sha256"):
                raise ChecksumMismatchError(
                    f"{zip_name}: downloaded sha256 {sha} differs from its manifest: "
                    "delete it and rebuild"
                )
            latest_updated = put_latest(store, artifacts.LAYER_LATEST, local, sha256_hex=sha)
    _write_local_manifest(request.manifest_path, manifest)
    return LayerResult(
        manifest=manifest,
        built=False,
        latest_updated=latest_updated,
        store=store.location,
        manifest_path=request.manifest_path,
    )


def _install(
    request: LayerRequest, platform: TargetPlatform, work: Path, hashed: bool
) -> dict[str, str]:
    site = work / LAYER_ROOT
    with progress.step(
        f"install wheels for {platform.platform_tag}, Python {platform.python_version}",
        heartbeat_s=5,
    ):
        install_wheels(
            requirements=request.requirements_file,
            target=site,
            platform=platform,
            require_hashes=hashed,
            index_args=request.index_args,
            uv=request.uv,
        )
    installed = installed_distributions(site)
    pins = parse_requirements(
        request.requirements_file.read_text(encoding="utf-8"), source=str(request.requirements_file)
    ).pins
    problems = unpinned_installs(installed, pins)
    if problems:
        raise BadInputError(
            f"{request.requirements_file} is incomplete: {'; '.join(problems)}: "
            "re-export it from the lock"
        )
    with progress.step("prune bytecode and scripts"):
        removed = prune_tree(site, request.prune)
    progress.say(f"  pruned {len(removed)} paths")
    return installed


def build_layer(request: LayerRequest, store: Store) -> LayerResult:
    lock_bytes = read_input(request.lock_file, "lock file", "run `poetry lock` in the backend")
    requirements_bytes = read_input(
        request.requirements_file,
        "requirements file",
        "run `poetry export -f requirements.txt -o requirements.txt` in the backend",
    )
    hashed = check_pins(
        lock_bytes.decode("utf-8"),
        requirements_bytes.decode("utf-8"),
        lock=request.lock_file,
        requirements=request.requirements_file,
    )
    platform = target_platform(request.runtime, request.architecture)
    full_key = cache_key(
        lock_bytes=lock_bytes,
        requirements_bytes=requirements_bytes,
        runtime=platform.runtime,
        architecture=platform.architecture,
        platform_tag=platform.platform_tag,
        prune=request.prune,
    )
    layer_hash = short_hash(full_key)
    zip_name = artifacts.layer_zip(layer_hash)
    json_name = artifacts.layer_manifest(layer_hash)
    progress.say(f"  cache key {layer_hash} ({platform.runtime}, {platform.platform_tag})")

    with progress.step(f"look up {zip_name} in {store.location}"):
        existing = store.head(zip_name)
        stored_manifest = read_manifest(store, json_name) if existing is not None else None
    if existing is not None and stored_manifest is not None:
        progress.say(f"  cache hit: {zip_name} is in the store, nothing to build")
        return _cache_hit(store, request, layer_hash, stored_manifest, existing.sha256_b64)
    if existing is not None:
        progress.say(
            f"  {zip_name} is in the store without its manifest (interrupted or racing build): "
            "building to verify it"
        )

    request.build_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="layer-", dir=request.scratch_dir or request.build_dir))
    try:
        installed = _install(request, platform, work, hashed)
        files = collect_files(work / LAYER_ROOT, prefix=f"{LAYER_ROOT}/")
        if not files:
            raise BadInputError(f"{request.requirements_file}: no packages to put in a layer")
        function_bytes = backend_unzipped_bytes(request.backend_dir) if request.backend_dir else 0
        top = check_budget(
            layer_bytes=total_size(files),
            function_bytes=function_bytes,
            limit=request.size_limit,
            sizes=distribution_sizes(work / LAYER_ROOT),
        )
        with progress.step(f"zip {len(files)} files"):
            built = write_zip(files, request.build_dir / zip_name)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    manifest: dict[str, Any] = {
        "hash": layer_hash,
        "cache_key": full_key,
        "format_version": FORMAT_VERSION,
        "key": object_key(store, zip_name, request.key_prefix),
        "latest_key": object_key(store, artifacts.LAYER_LATEST, request.key_prefix),
        "manifest_key": object_key(store, json_name, request.key_prefix),
        "sha256": built.sha256,
        "code_sha256": hex_to_b64(built.sha256),
        "zip_bytes": built.zip_bytes,
        "unzipped_bytes": built.unzipped_bytes,
        "runtime": platform.runtime,
        "architecture": platform.architecture,
        "platform_tag": platform.platform_tag,
        "python_version": platform.python_version,
        "packages": dict(sorted(installed.items())),
    }
    with progress.step(f"upload {zip_name}"):
        created = put_content_addressed(store, zip_name, built.path, sha256_hex=built.sha256)
    if not created:
        progress.say(f"  {zip_name} was written by another build with the same checksum: kept")
    with progress.step(f"upload {artifacts.LAYER_LATEST}"):
        latest_updated = put_latest(
            store, artifacts.LAYER_LATEST, built.path, sha256_hex=built.sha256
        )
    put_manifest(store, json_name, manifest)
    _write_local_manifest(request.manifest_path, manifest)
    return LayerResult(
        manifest=manifest,
        built=True,
        latest_updated=latest_updated,
        store=store.location,
        manifest_path=request.manifest_path,
        largest_packages=top,
        zip_path=built.path,
    )


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
