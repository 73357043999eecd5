"""The layer cache key: every input that changes the layer's bytes, and nothing else.

The design hashes `poetry.lock` alone, so a runtime or architecture change would reuse a
layer built for another interpreter or CPU. Here the key covers the lock, the exported
requirements (what is actually installed: a re-export with another group changes the layer
while the lock stays the same), the runtime, the architecture, the wheel platform tag, the
builder's format version (bumped when the build itself changes its output) and the prune
options. Deploy recomputes it from the same files to find `layer-HASH.zip` without the
build directory.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

from scripts.build.layout import DEFAULT_PRUNE, PruneOptions
from scripts.build.wheels import target_platform
from scripts.errors import BadInputError

if TYPE_CHECKING:
    from environments import Environment

# Bump when a change to the builder changes the layer's bytes for the same inputs.
# 2: installer dotfiles (uv's `.lock`) dropped from python/.
FORMAT_VERSION = 2
HASH_LENGTH = 16


def cache_key(
    *,
    lock_bytes: bytes,
    requirements_bytes: bytes,
    runtime: str,
    architecture: str,
    platform_tag: str,
    format_version: int = FORMAT_VERSION,
    prune: PruneOptions = DEFAULT_PRUNE,
) -> str:
    """64-hex sha256 over a canonical JSON of every input."""
    payload = {
        "architecture": architecture,
        "format_version": format_version,
        "lock_sha256": hashlib.sha256(lock_bytes).hexdigest(),
        "platform_tag": platform_tag,
        "prune": prune.as_key(),
        "requirements_sha256": hashlib.sha256(requirements_bytes).hexdigest(),
        "runtime": runtime,
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def short_hash(key: str) -> str:
    return key[:HASH_LENGTH]


def read_input(path: Path | None, what: str, fix: str) -> bytes:
    if path is None or not path.is_file():
        raise BadInputError(f"{what} not found at {path}: {fix}")
    return path.read_bytes()


def lock_inputs(env: Environment) -> tuple[bytes, bytes]:
    lock = read_input(env.lock_file, "lock file", "run `poetry lock` in the backend")
    requirements = read_input(
        env.requirements_file,
        "requirements file",
        "run `poetry export -f requirements.txt -o requirements.txt` in the backend",
    )
    return lock, requirements


def layer_key(
    env: Environment,
    *,
    runtime: str | None = None,
    architecture: str | None = None,
    prune: PruneOptions = DEFAULT_PRUNE,
) -> str:
    """The full 64-hex key for an environment's lock, runtime and architecture."""
    lock, requirements = lock_inputs(env)
    platform = target_platform(runtime or env.runtime, architecture or env.architecture)
    return cache_key(
        lock_bytes=lock,
        requirements_bytes=requirements,
        runtime=platform.runtime,
        architecture=platform.architecture,
        platform_tag=platform.platform_tag,
        prune=prune,
    )


def layer_hash(
    env: Environment, *, runtime: str | None = None, architecture: str | None = None
) -> str:
    """`HASH` in `layer-HASH.zip`: what deploy looks for in the store."""
    return short_hash(layer_key(env, runtime=runtime, architecture=architecture))
