"""Every artifact and record name, relative to the store root: one definition each.

The builder writes these names, deploy and rollback read them, prune and status list them,
and Terraform's first versions read the two latest keys. Only the store adds the key
prefix (`lambda/` in the bucket), so nothing here knows S3 from a local directory.

Like `environments`, this module imports nothing of ours and nothing of cdktf: both the
scripts and the stacks read it.
"""

from __future__ import annotations

import re

# Content-addressed names carry 16 to 64 lowercase hex characters of a SHA-256.
_HASH = r"[0-9a-f]{16,64}"
HASH = re.compile(rf"^{_HASH}$")

# The mutable "newest build" keys the design names (Terraform's first versions read them).
LAYER_LATEST = "layer.zip"
PACKAGE_LATEST = "backend.zip"

LAYER_ZIP = re.compile(rf"^layer-(?P<hash>{_HASH})\.zip$")
PACKAGE_ZIP = re.compile(rf"^backend-(?P<hash>{_HASH})\.zip$")
# Code snapshotted from a function that ran code from outside our store (a fat package):
# named by its own SHA-256, so a second snapshot of the same code is the same object.
SNAPSHOT_ZIP = re.compile(rf"^snapshots/(?P<hash>{_HASH})\.zip$")


def layer_zip(layer_hash: str) -> str:
    return f"layer-{layer_hash}.zip"


def layer_manifest(layer_hash: str) -> str:
    return f"layer-{layer_hash}.json"


def package_zip(package_hash: str) -> str:
    return f"backend-{package_hash}.zip"


def package_manifest(package_hash: str) -> str:
    return f"backend-{package_hash}.json"


def snapshot_zip(sha256_hex: str) -> str:
    return f"snapshots/{sha256_hex}.zip"


def manifest_of(zip_name: str) -> str:
    """`layer-H.zip` -> `layer-H.json`: every content-addressed zip has its manifest beside it."""
    return zip_name.removesuffix(".zip") + ".json"


def is_code_artifact(name: str) -> bool:
    """A name Lambda may run code from: a built package or a snapshot, never `backend.zip`."""
    return bool(PACKAGE_ZIP.match(name) or SNAPSHOT_ZIP.match(name))


# Release history and the deploy lock live per environment under `deployments/ENV/`.
def deployments_prefix(env_name: str) -> str:
    return f"deployments/{env_name}/"


def releases_prefix(env_name: str) -> str:
    return f"{deployments_prefix(env_name)}releases/"


def release_record(env_name: str, release_id: str) -> str:
    return f"{releases_prefix(env_name)}{release_id}.json"


def lock_name(env_name: str) -> str:
    return f"{deployments_prefix(env_name)}lock.json"
