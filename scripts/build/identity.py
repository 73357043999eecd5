"""The names a build gives, recomputed from the checked-out files: what deploy looks for.

One function for both artifacts, with the environment's own runtime, architecture,
bytecode and package settings, exactly as `build-layer` and `build-backend` name them.
Recomputed from the files, never read from `layer.zip`: a lock changed without a rebuild
must stop deploy ("run build-layer first"), not silently deploy the previous layer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scripts.build.backend import PackageSource, package_hash
from scripts.build.cache_key import layer_identity
from scripts.build.lockfile import LockSource

if TYPE_CHECKING:
    from environments import Environment


def lock_source(env: Environment) -> LockSource:
    """The environment's lock (env.lock_file is always set: detected when not configured)."""
    # Environment.__post_init__ fills it in; the fallback only satisfies the type.
    lock_file = env.lock_file or env.backend_dir / "poetry.lock"
    return LockSource(
        lock_file=lock_file,
        lock_format=env.backend.lock_format,
        requirements_file=env.requirements_file,
    )


def layer_hash(env: Environment) -> str:
    """`HASH` in `layer-HASH.zip` for the environment's runtime, architecture and bytecode."""
    identity = layer_identity(
        lock_source(env),
        runtime=env.runtime,
        architecture=env.architecture,
        bytecode=env.backend.bytecode,
    )
    return identity.hash


def current_hashes(env: Environment, *, version: str | None = None) -> tuple[str, str]:
    """(layer HASH, package HASH) of the checked-out backend, as the builders name them.

    `version` is build-backend's `--version`, when the build was given one.
    """
    source = PackageSource.resolve(
        env.backend_dir, env.backend.package, version=version, environment=env.name
    )
    return layer_hash(env), package_hash(source)
