"""The layer cache key: every input that changes the layer's bytes, and nothing else.

The design hashes `poetry.lock` alone, so a runtime or architecture change would reuse a
layer built for another interpreter or CPU, and a dev-only lock edit would rebuild it.
Here the key covers the pins the target installs (names, versions, file hashes and index
options, after the lock's markers were evaluated for that runtime and CPU), the runtime,
the architecture, the wheel platform tag, the bytecode settings (the runtime's minor
version decides the .pyc format), the prune options and the builder's format version
(bumped when the build itself changes its output). Deploy recomputes it from the same
files to find `layer-HASH.zip` without the build directory.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass

from scripts.builder.bytecode import bytecode_key
from scripts.builder.layout import DEFAULT_PRUNE, PruneOptions
from scripts.builder.lockfile import LockSource, read_pins
from scripts.builder.pins import LockedPins, MarkerTarget
from scripts.builder.wheels import TargetPlatform, target_platform

# Bump when a change to the builder changes the layer's bytes for the same inputs.
# 2: installer dotfiles (uv's `.lock`) dropped from python/.
# 3: pins read from the lock for the target; RECORD lines of pruned files and uv_cache.json
#    dropped; bytecode compiled for the runtime.
FORMAT_VERSION = 3
HASH_LENGTH = 16


def cache_key(
    *,
    pins: Mapping[str, object],
    runtime: str,
    architecture: str,
    platform_tag: str,
    bytecode: bool,
    format_version: int = FORMAT_VERSION,
    prune: PruneOptions = DEFAULT_PRUNE,
) -> str:
    """64-hex sha256 over a canonical JSON of every input."""
    payload = {
        "architecture": architecture,
        "bytecode": bytecode_key(runtime.removeprefix("python")) if bytecode else None,
        "format_version": format_version,
        "pins": pins,
        "platform_tag": platform_tag,
        "prune": prune.as_key(),
        "runtime": runtime,
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def short_hash(key: str) -> str:
    return key[:HASH_LENGTH]


def marker_target(platform: TargetPlatform) -> MarkerTarget:
    return MarkerTarget(python_version=platform.python_version, architecture=platform.architecture)


@dataclass(frozen=True, kw_only=True)
class LayerIdentity:
    """What a layer build for one target is: its pins, platform and key."""

    pins: LockedPins
    platform: TargetPlatform
    bytecode: bool
    key: str

    @property
    def hash(self) -> str:
        return short_hash(self.key)


def layer_identity(
    source: LockSource,
    *,
    runtime: str,
    architecture: str,
    bytecode: bool,
    prune: PruneOptions = DEFAULT_PRUNE,
) -> LayerIdentity:
    """Read the lock for the target and key it; no installer, no interpreter needed."""
    platform = target_platform(runtime, architecture)
    pins = read_pins(source, marker_target(platform))
    key = cache_key(
        pins=pins.as_key(),
        runtime=platform.runtime,
        architecture=platform.architecture,
        platform_tag=platform.platform_tag,
        bytecode=bytecode,
        prune=prune,
    )
    return LayerIdentity(pins=pins, platform=platform, bytecode=bytecode, key=key)
