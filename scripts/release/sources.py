"""Where a function's code can be read from again, checked byte for byte before use.

Lambda only hands out a short-lived URL for a function's code, so putting code back needs
a copy in the store: a built package (`backend-HASH.zip`, named by its own SHA-256) or a
snapshot (`snapshots/SHA256.zip`) taken from a function that runs code from elsewhere --
the design's starting point, functions on fat packages. Both names derive from the
`CodeSha256` Lambda reports, so finding the copy of any code is one lookup, not a scan.

Every zip is downloaded and hashed before a release uses it: S3's stored checksum is
missing on objects uploaded without one, and an object replaced later (truncated,
say) must be refused before any function runs it, not after.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import artifacts
from scripts.errors import BadInputError, ChecksumMismatchError, ObjectExistsError, ToolError
from scripts.release.facts import CodeSource
from scripts.release.history import now
from scripts.release.lambda_api import Api
from scripts.store import Store, hex_to_b64
from scripts.store.publish import read_manifest

DOWNLOAD_TIMEOUT_S = 120.0


def code_hex(code_sha256: str) -> str | None:
    """Lambda's base64 `CodeSha256` as hex; None when it is not a SHA-256."""
    try:
        raw = base64.b64decode(code_sha256, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw.hex() if len(raw) == 32 else None


def manifest_code_sha256(manifest: Mapping[str, Any]) -> str | None:
    value = manifest.get("code_sha256")
    if isinstance(value, str) and value:
        return value
    hex_digest = manifest.get("sha256")
    if isinstance(hex_digest, str) and len(hex_digest) == 64:
        return hex_to_b64(hex_digest)
    return None


def s3_source(store: Store, name: str, code_sha256: str) -> CodeSource:
    location = store.s3_location(name)
    if location is None:
        raise BadInputError(
            f"{store.location}: Lambda reads code from S3 only; this command needs an s3:// store"
        )
    return CodeSource(bucket=location[0], key=location[1], code_sha256=code_sha256, name=name)


@dataclass
class Sources:
    """Checked artifacts of one store; each name is downloaded and hashed at most once."""

    store: Store
    _checked: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)

    def checked(self, name: str, *, missing_hint: str) -> tuple[CodeSource, dict[str, Any]]:
        """A zip and its manifest, present, agreeing, and the bytes hashing to both."""
        if name not in self._checked:
            self._checked[name] = self._check(name, missing_hint)
        code_sha256, manifest = self._checked[name]
        return s3_source(self.store, name, code_sha256), manifest

    def _check(self, name: str, missing_hint: str) -> tuple[str, dict[str, Any]]:
        where = f"{self.store.location}{name}"
        manifest_name = artifacts.manifest_of(name)
        manifest = read_manifest(self.store, manifest_name)
        # Missing is bad input like a wrong hash or key (exit 2: run the build), as for the
        # layer in deploy.target_from_store; bytes that disagree are a failure (exit 1).
        if manifest is None:
            raise BadInputError(f"{self.store.location}{manifest_name} is missing: {missing_hint}")
        expected = manifest_code_sha256(manifest)
        if expected is None:
            raise ToolError(f"{self.store.location}{manifest_name}: no sha256: {missing_hint}")
        stored = self.store.get(name)
        if stored is None:
            raise BadInputError(f"{where} is missing: {missing_hint}")
        actual = hex_to_b64(hashlib.sha256(stored.data).hexdigest())
        if actual != expected:
            raise ChecksumMismatchError(
                f"{where}: its bytes ({len(stored.data):,}, SHA-256 {actual}) do not match its "
                f"manifest ({expected}): the object was replaced or truncated; nothing was "
                f"changed; delete it and its manifest, then {missing_hint}"
            )
        return expected, manifest

    def find(self, code_sha256: str) -> CodeSource | None:
        """A checked package or snapshot holding exactly this code, if the store has one."""
        hex_digest = code_hex(code_sha256)
        if hex_digest is None:
            return None
        for name in (
            artifacts.package_zip(hex_digest[:16]),
            artifacts.snapshot_zip(hex_digest),
        ):
            if self.store.head(artifacts.manifest_of(name)) is None:
                continue
            source, _ = self.checked(name, missing_hint="rebuild it")
            if source.code_sha256 == code_sha256:
                return source
        return None

    def snapshot(self, api: Api, function: str, code_sha256: str) -> CodeSource:
        """Copy the code a function runs into the store, verified against its CodeSha256."""
        hex_digest = code_hex(code_sha256)
        if hex_digest is None:
            raise ToolError(f"{function}: CodeSha256 {code_sha256!r} is not a SHA-256")
        url = api.code_location(function)
        try:
            with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:  # noqa: S310
                data = response.read()
        except (urllib.error.URLError, OSError) as err:
            raise ToolError(
                f"{function}: could not download its current code to snapshot it ({err}); "
                "nothing was changed; re-run (the URL Lambda gives is valid ten minutes)"
            ) from err
        got = hex_to_b64(hashlib.sha256(data).hexdigest())
        if got != code_sha256:
            raise ChecksumMismatchError(
                f"{function}: downloaded code hashes to {got}, Lambda reports {code_sha256}; "
                "nothing was changed; re-run"
            )
        name = artifacts.snapshot_zip(hex_digest)
        # Present already: the same bytes, by name; checked below like any other artifact.
        with contextlib.suppress(ObjectExistsError):
            self.store.put_bytes(name, data, overwrite=False)
        manifest = {
            "code_sha256": code_sha256,
            "sha256": hex_digest,
            "zip_bytes": len(data),
            "snapshot_of": function,
            "taken_at": now(),
        }
        with contextlib.suppress(ObjectExistsError):
            self.store.put_bytes(
                artifacts.manifest_of(name),
                (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode(),
                overwrite=False,
            )
        source, _ = self.checked(name, missing_hint="re-run to snapshot it again")
        return source
