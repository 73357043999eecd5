"""Deployment records and the package index: what ran where, and where its code lives.

One JSON object per deployment under `deployments/ENV/` in the store, named by UTC time
so a listing is the history in order and nothing is ever overwritten. Each record keeps,
per function, the state *before* the change (code hash, the content-addressed package
that holds that code, layers): that is what `rollback --previous` returns to and what
`prune-layers` must not delete.

Restoring code needs a package Lambda can read again, but `GetFunction` only hands out a
short-lived download URL. We never depend on it: the package index maps a `CodeSha256`
to a content-addressed `backend-HASH.zip` through the builder's manifests
(`backend-HASH.json`, which record `code_sha256`) and the records' own package keys. The
functions' code only ever comes from those keys (Terraform's first `backend.zip` is also
uploaded as `backend-HASH.zip` by the same build), so a match exists for every state our
tools produced; a function running code from elsewhere is refused before any change.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import artifacts
from environments import Environment
from scripts.errors import ToolError
from scripts.store import Store, hex_to_b64


def manifest_code_sha256(manifest: Mapping[str, Any]) -> str | None:
    """The base64 SHA-256 Lambda reports as `CodeSha256` for this zip."""
    value = manifest.get("code_sha256")
    if isinstance(value, str) and value:
        return value
    hex_digest = manifest.get("sha256")
    if isinstance(hex_digest, str) and re.fullmatch(r"[0-9a-f]{64}", hex_digest):
        return hex_to_b64(hex_digest)
    return None


def read_json(store: Store, name: str) -> dict[str, Any]:
    try:
        data = json.loads(store.read_bytes(name))
    except json.JSONDecodeError as err:
        raise ToolError(f"{store.location}{name}: not valid JSON ({err})") from err
    if not isinstance(data, dict):
        raise ToolError(f"{store.location}{name}: expected a JSON object")
    return data


@dataclass(frozen=True, kw_only=True)
class FunctionRecord:
    before_code_sha256: str
    before_layers: tuple[str, ...]
    # The content-addressed package holding the code before; None if none was found.
    before_package_key: str | None
    status: str
    updated: bool
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "before": {
                "code_sha256": self.before_code_sha256,
                "layers": list(self.before_layers),
                "package_key": self.before_package_key,
            },
            "status": self.status,
            "updated": self.updated,
            "error": self.error,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FunctionRecord:
        before = data.get("before", {})
        return cls(
            before_code_sha256=str(before.get("code_sha256", "")),
            before_layers=tuple(before.get("layers", [])),
            before_package_key=before.get("package_key"),
            status=str(data.get("status", "")),
            updated=bool(data.get("updated", False)),
            error=data.get("error"),
        )


@dataclass(frozen=True, kw_only=True)
class DeploymentRecord:
    kind: str  # "deploy" or "rollback"
    env: str
    status: str  # "succeeded" or "failed"
    time: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="microseconds"))
    version: str | None = None
    layer_hash: str | None = None
    layer_version_arn: str | None = None
    published: bool = False
    package_key: str | None = None
    package_code_sha256: str | None = None
    functions: Mapping[str, FunctionRecord] = field(default_factory=dict)
    error: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"

    @property
    def changed_anything(self) -> bool:
        return any(f.updated for f in self.functions.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "env": self.env,
            "status": self.status,
            "time": self.time,
            "version": self.version,
            "layer_hash": self.layer_hash,
            "layer_version_arn": self.layer_version_arn,
            "published": self.published,
            "package_key": self.package_key,
            "package_code_sha256": self.package_code_sha256,
            "functions": {name: f.to_json() for name, f in sorted(self.functions.items())},
            "error": self.error,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DeploymentRecord:
        return cls(
            kind=str(data.get("kind", "")),
            env=str(data.get("env", "")),
            status=str(data.get("status", "")),
            time=str(data.get("time", "")),
            version=data.get("version"),
            layer_hash=data.get("layer_hash"),
            layer_version_arn=data.get("layer_version_arn"),
            published=bool(data.get("published", False)),
            package_key=data.get("package_key"),
            package_code_sha256=data.get("package_code_sha256"),
            functions={
                name: FunctionRecord.from_json(f)
                for name, f in dict(data.get("functions", {})).items()
            },
            error=data.get("error"),
        )

    def layer_arns(self) -> set[str]:
        """Every layer version this record names: the target and the states before it."""
        arns = {self.layer_version_arn} if self.layer_version_arn else set()
        for record in self.functions.values():
            arns.update(record.before_layers)
        return arns


def write_record(store: Store, env: Environment, record: DeploymentRecord) -> str:
    """Store one record under a new time-ordered name; history is never overwritten."""
    stamp = datetime.fromisoformat(record.time).strftime("%Y%m%dT%H%M%S.%fZ")
    name = (
        f"{artifacts.deployments_prefix(env.name)}{stamp}-{record.kind}-{uuid.uuid4().hex[:8]}.json"
    )
    body = json.dumps(record.to_json(), indent=2, sort_keys=True).encode()
    store.put_bytes(name, body, overwrite=False)
    return name


def load_records(
    store: Store, env: Environment, *, limit: int | None = None
) -> list[tuple[str, DeploymentRecord]]:
    """Newest first; `limit` reads only that many bodies."""
    names = sorted(
        (
            o.name
            for o in store.list(artifacts.deployments_prefix(env.name))
            if o.name.endswith(".json")
        ),
        reverse=True,
    )
    if limit is not None:
        names = names[:limit]
    return [(name, DeploymentRecord.from_json(read_json(store, name))) for name in names]


@dataclass
class PackageIndex:
    """Finds the content-addressed package whose zip Lambda reports as `CodeSha256`."""

    store: Store
    records: list[DeploymentRecord] = field(default_factory=list)
    _by_sha: dict[str, str] | None = None
    _found: dict[str, str | None] = field(default_factory=dict)

    def _manifests(self) -> dict[str, str]:
        if self._by_sha is None:
            found: dict[str, str] = {}
            for info in self.store.list("backend-"):
                zip_name = info.name.removesuffix(".json") + ".zip"
                if not info.name.endswith(".json") or not artifacts.PACKAGE_ZIP.match(zip_name):
                    continue
                code_sha = manifest_code_sha256(read_json(self.store, info.name))
                if code_sha:
                    found.setdefault(code_sha, zip_name)
            self._by_sha = found
        return self._by_sha

    def lookup(self, code_sha256: str) -> str | None:
        """The store name (`backend-HASH.zip`) holding this code, if it still exists."""
        # Usually all four functions run the same code: look it up once.
        if code_sha256 not in self._found:
            self._found[code_sha256] = self._lookup(code_sha256)
        return self._found[code_sha256]

    def _lookup(self, code_sha256: str) -> str | None:
        prefix = self._key_prefix()
        for record in self.records:
            if record.package_code_sha256 == code_sha256 and record.package_key:
                name = record.package_key.removeprefix(prefix)
                if artifacts.PACKAGE_ZIP.match(name) and self.store.head(name) is not None:
                    return name
        indexed = self._manifests().get(code_sha256)
        if indexed is not None and self.store.head(indexed) is not None:
            return indexed
        return None

    def _key_prefix(self) -> str:
        location = self.store.s3_location("")
        return location[1] if location else ""
