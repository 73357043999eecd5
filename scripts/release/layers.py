"""The environment's deps layer versions: parse, list, publish-or-reuse, swap in a list.

Layer versions are immutable, so everything here is either a read or a publish that is
checked against the build's manifest before any function may see the new version.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING

from environments import Environment
from scripts.errors import BadInputError, ChecksumMismatchError

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

# arn:PARTITION:lambda:REGION:ACCOUNT:layer:NAME:VERSION
_LAYER_VERSION_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-zA-Z-]*):lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12})"
    r":layer:(?P<name>[A-Za-z0-9_-]{1,140}):(?P<version>[1-9]\d*)$"
)
# Recorded in each version's description so a later deploy recognises its own build.
HASH_IN_DESCRIPTION = re.compile(r"\bhash=(?P<hash>[0-9a-f]{16,64})\b")


@dataclass(frozen=True, kw_only=True)
class LayerVersionRef:
    """A parsed layer version ARN; layers are regional and per account."""

    arn: str
    partition: str
    region: str
    account: str
    name: str
    version: int


@dataclass(frozen=True, kw_only=True)
class LayerVersionInfo:
    version: int
    arn: str
    description: str

    @property
    def layer_hash(self) -> str | None:
        """The build hash deploy wrote into the description; None for Terraform's version."""
        match = HASH_IN_DESCRIPTION.search(self.description)
        return match["hash"] if match else None


@dataclass(frozen=True, kw_only=True)
class LayerSource:
    """A content-addressed layer zip Lambda can read, with the CodeSha256 it must report."""

    layer_hash: str
    bucket: str
    key: str
    code_sha256: str


def parse_layer_version_arn(arn: str) -> LayerVersionRef:
    match = _LAYER_VERSION_ARN.match(arn)
    if not match:
        raise BadInputError(
            f"{arn!r} is not a layer version ARN (arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION)"
        )
    return LayerVersionRef(
        arn=arn,
        partition=match["partition"],
        region=match["region"],
        account=match["account"],
        name=match["name"],
        version=int(match["version"]),
    )


def layer_name_of(arn: str) -> str | None:
    match = _LAYER_VERSION_ARN.match(arn)
    return match["name"] if match else None


def deps_layer_of(layers: tuple[str, ...], layer_name: str) -> str | None:
    return next((arn for arn in layers if layer_name_of(arn) == layer_name), None)


def replace_deps_layer(
    layers: tuple[str, ...], *, layer_name: str, new_arn: str, foreign: Collection[str] = ()
) -> tuple[str, ...]:
    """This environment's deps layer swapped for `new_arn`, every other layer kept in place.

    Matching is by the layer's name in the ARN, so a vendor extension or another team's
    layer attached beside ours survives a deploy. A layer named in `foreign` is the deps
    layer published under another name (Environment.foreign_deps_layers): it is replaced
    too, since a second copy of every dependency would shadow or duplicate ours on the path
    and spend one of Lambda's five layer slots. Without a deps layer yet, it is appended.
    """
    deps = {layer_name, *foreign}
    result: list[str] = []
    placed = False
    for arn in layers:
        if layer_name_of(arn) in deps:
            if not placed:
                result.append(new_arn)
                placed = True
        else:
            result.append(arn)
    if not placed:
        result.append(new_arn)
    return tuple(result)


def check_layer_arn(
    arn: str,
    env: Environment,
    *,
    partition: str,
    region: str,
    account: str | None,
    foreign_ok: bool = False,
) -> LayerVersionRef:
    """Pure: an ARN of this environment's layer, in the functions' partition and region
    (and account, once known); anything else is refused before any call. `foreign_ok`
    also accepts the deps layer under a foreign name (a state from before our first
    release, which a rollback may return to)."""
    ref = parse_layer_version_arn(arn)
    where = [
        ("partition", ref.partition, partition),
        ("region", ref.region, region),
        ("account", ref.account, account),
    ]
    for what, got, expected in where:
        if expected is not None and got != expected:
            raise BadInputError(
                f"{arn}: layer is in {what} {got}, the {env.name} functions in {expected}: "
                "a function can only use a layer of its own partition, region and account"
            )
    if ref.name not in (env.deps_layer_names if foreign_ok else (env.layer_name,)):
        raise BadInputError(
            f"{arn}: layer {ref.name!r} is not this environment's layer {env.layer_name!r}"
        )
    return ref


def layer_versions(client: LambdaClient, layer_name: str) -> list[LayerVersionInfo]:
    """Every version of the layer, newest first (all pages)."""
    found: list[LayerVersionInfo] = []
    for page in client.get_paginator("list_layer_versions").paginate(LayerName=layer_name):
        for item in page.get("LayerVersions", []):
            found.append(
                LayerVersionInfo(
                    version=int(item["Version"]),
                    arn=str(item["LayerVersionArn"]),
                    description=str(item.get("Description", "")),
                )
            )
    return sorted(found, key=lambda v: v.version, reverse=True)


def existing_layer_version(
    client: LambdaClient, env: Environment, source: LayerSource
) -> str | None:
    """The newest version's ARN if it holds exactly this build (read only)."""
    versions = layer_versions(client, env.layer_name)
    if versions and versions[0].layer_hash == source.layer_hash:
        current = client.get_layer_version(
            LayerName=env.layer_name, VersionNumber=versions[0].version
        )
        if current.get("Content", {}).get("CodeSha256") == source.code_sha256:
            return versions[0].arn
    return None


def ensure_layer_version(
    client: LambdaClient, env: Environment, source: LayerSource
) -> tuple[str, bool]:
    """(layer version ARN, published): reuse the newest version if it is this build.

    A new version is checked against the manifest before any function sees it; a
    mismatch (a replaced object, an emulator publishing a missing key as empty) deletes
    the bad version again and aborts.
    """
    found = existing_layer_version(client, env, source)
    if found is not None:
        return found, False
    published = client.publish_layer_version(
        LayerName=env.layer_name,
        Description=f"{env.name_prefix}-{env.name} deps hash={source.layer_hash}",
        Content={"S3Bucket": source.bucket, "S3Key": source.key},
        CompatibleRuntimes=[env.runtime],  # type: ignore[list-item]
        CompatibleArchitectures=[env.architecture],  # type: ignore[list-item]
    )
    arn = published["LayerVersionArn"]
    got = published.get("Content", {}).get("CodeSha256")
    if got != source.code_sha256:
        # Never leave a wrong version as "newest": the next deploy would consider it.
        client.delete_layer_version(LayerName=env.layer_name, VersionNumber=published["Version"])
        raise ChecksumMismatchError(
            f"published {arn} reports CodeSha256 {got!r}, the manifest says "
            f"{source.code_sha256}: version deleted, no function was changed; "
            "rebuild the layer (run build-layer)"
        )
    return arn, True
