"""The store in an S3 bucket under a key prefix: what CI and deploy use."""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scripts.clients import client_error
from scripts.errors import (
    ArchivedObjectError,
    BadInputError,
    ConditionFailedError,
    ObjectExistsError,
    StoreAccessError,
    ToolError,
)
from scripts.store.base import ObjectInfo, Stored, hex_to_b64

if TYPE_CHECKING:
    from botocore.exceptions import ClientError
    from mypy_boto3_s3 import S3Client


def _status(err: ClientError) -> object:
    return err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")


def _code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def _missing(err: ClientError) -> bool:
    # HEAD has no body, so a missing key shows only as a 404 status.
    return _status(err) == 404 or _code(err) in {"404", "NoSuchKey", "NotFound"}


def _server_time(response: Any) -> float | None:
    """S3's own clock: the response's Date header (whole seconds), None if absent."""
    date = response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    try:
        return parsedate_to_datetime(str(date)).timestamp() if date else None
    except (TypeError, ValueError):
        return None


def _precondition_failed(err: ClientError) -> bool:
    return _status(err) in {409, 412} or _code(err) in {
        "PreconditionFailed",
        "ConditionalRequestConflict",
    }


# The key a write check names (never written: see `check_writable`).
PROBE = ".write-check"


@dataclass(frozen=True)
class S3Store:
    client: S3Client
    bucket: str
    prefix: str = ""

    @property
    def location(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def _key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def _error(self, err: ClientError, name: str, action: str) -> ToolError:
        code = str(err.response.get("Error", {}).get("Code", ""))
        status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        where = f"s3://{self.bucket}/{self._key(name)}"
        if code == "InvalidObjectState":  # a 403 too, but no permission would help
            storage = err.response.get("Error", {}).get("StorageClass", "an archive class")
            return ArchivedObjectError(
                f"{where}: archived (storage class {storage}): restore it to read it ({action})"
            )
        if status == 403 or code in {"AccessDenied", "403", "Forbidden"}:
            return StoreAccessError(
                f"{where}: access denied on {action} (403): grant the deployer role "
                f"s3:{action} on this key (and s3:ListBucket on the bucket)"
            )
        if code in {"NoSuchBucket"}:
            return BadInputError(
                f"s3://{self.bucket}: bucket does not exist: create it or pass --store"
            )
        return ToolError(f"{where}: {action} failed: {code or status}: {err}")

    def check_writable(self) -> None:
        """Fail before a build or a release, not at its upload: the bucket exists and takes
        our writes under the prefix. Nothing is written."""
        try:
            # A GET, so a missing bucket says NoSuchBucket (a HEAD would only say 404, which
            # reads like a missing object: "run build-layer first" was the wrong advice).
            self.client.list_objects_v2(Bucket=self.bucket, Prefix=self.prefix, MaxKeys=1)
        except client_error() as err:
            if _code(err) == "NoSuchBucket" or _status(err) == 404:
                raise BadInputError(
                    f"{self.location}: bucket {self.bucket} does not exist (or is in another "
                    "account): check --store, or the environment's artifact_bucket"
                ) from err
            raise self._error(err, "", "ListBucket") from err
        try:
            # A write conditional on an ETag no object has: S3 checks the permission first
            # (403) and the condition second (412, or 404 for a missing key), so a refused
            # condition proves the write right without writing anything.
            self.client.put_object(
                Bucket=self.bucket, Key=self._key(PROBE), Body=b"", IfMatch='"0"'
            )
        except client_error() as err:
            if _precondition_failed(err) or _missing(err):
                return
            raise self._error(err, PROBE, "PutObject") from err
        # The condition was ignored (a store without conditional writes): tidy up.
        with contextlib.suppress(Exception):
            self.client.delete_object(Bucket=self.bucket, Key=self._key(PROBE))

    def head(self, name: str) -> ObjectInfo | None:
        try:
            response = self.client.head_object(
                Bucket=self.bucket, Key=self._key(name), ChecksumMode="ENABLED"
            )
        except client_error() as err:
            if _missing(err):
                return None
            raise self._error(err, name, "GetObject") from err
        return ObjectInfo(
            name=name,
            size=int(response["ContentLength"]),
            sha256_b64=response.get("ChecksumSHA256"),
        )

    def read_bytes(self, name: str) -> bytes:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(name))
        except client_error() as err:
            raise self._error(err, name, "GetObject") from err
        return response["Body"].read()

    def download(self, name: str, dest: Path) -> None:
        try:
            self.client.download_file(self.bucket, self._key(name), str(dest))
        except client_error() as err:
            raise self._error(err, name, "GetObject") from err

    def _put(
        self,
        name: str,
        body: bytes | Path,
        sha256_hex: str,
        overwrite: bool,
        if_match: str | None = None,
    ) -> str:
        # S3 conditional writes, atomic on S3's side: 412 when the key exists (IfNoneMatch)
        # or holds another version than the one we read (IfMatch).
        condition: dict[str, str] = {}
        if if_match is not None:
            condition["IfMatch"] = if_match
        elif not overwrite:
            condition["IfNoneMatch"] = "*"
        try:
            with contextlib.ExitStack() as stack:
                payload = stack.enter_context(body.open("rb")) if isinstance(body, Path) else body
                response = self.client.put_object(
                    Bucket=self.bucket,
                    Key=self._key(name),
                    Body=payload,
                    ChecksumSHA256=hex_to_b64(sha256_hex),
                    # Names the algorithm too: stores that key the checksum on it (moto)
                    # then report it back on a ChecksumMode=ENABLED head.
                    ChecksumAlgorithm="SHA256",
                    **condition,  # type: ignore[arg-type]
                )
        except client_error() as err:
            # IfMatch on a key that is gone is refused too (404): not the version we read.
            if _precondition_failed(err) or (if_match is not None and _missing(err)):
                where = f"s3://{self.bucket}/{self._key(name)}"
                if if_match is not None:
                    raise ConditionFailedError(f"{where} changed since it was read") from err
                raise ObjectExistsError(f"{where} already exists") from err
            raise self._error(err, name, "PutObject") from err
        return str(response.get("ETag", ""))

    def put_file(self, name: str, path: Path, *, sha256_hex: str, overwrite: bool) -> None:
        self._put(name, path, sha256_hex, overwrite)

    def put_bytes(
        self, name: str, data: bytes, *, overwrite: bool, if_match: str | None = None
    ) -> str:
        return self._put(name, data, hashlib.sha256(data).hexdigest(), overwrite, if_match)

    def get(self, name: str) -> Stored | None:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(name))
        except client_error() as err:
            if _missing(err):
                return None
            raise self._error(err, name, "GetObject") from err
        return Stored(
            data=response["Body"].read(),
            etag=str(response.get("ETag", "")),
            modified=response["LastModified"].timestamp() if "LastModified" in response else None,
            now=_server_time(response),
        )

    def delete(self, name: str, *, if_match: str | None = None) -> None:
        condition: dict[str, Any] = {"IfMatch": if_match} if if_match is not None else {}
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(name), **condition)
        except client_error() as err:
            if _precondition_failed(err) or (if_match is not None and _missing(err)):
                raise ConditionFailedError(
                    f"s3://{self.bucket}/{self._key(name)} changed since it was read"
                ) from err
            raise self._error(err, name, "DeleteObject") from err

    def list(self, prefix: str) -> list[ObjectInfo]:
        found: list[ObjectInfo] = []
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self._key(prefix)):
                for item in page.get("Contents", []):
                    found.append(
                        ObjectInfo(
                            name=item["Key"][len(self.prefix) :],
                            size=int(item["Size"]),
                            sha256_b64=None,
                        )
                    )
        except client_error() as err:
            raise self._error(err, prefix, "ListBucket") from err
        return found

    def s3_location(self, name: str) -> tuple[str, str] | None:
        return (self.bucket, self._key(name))
