"""build-layer and build-backend against a real moto server: verified uploads and the faults
moto cannot produce (injected with botocore event hooks: racing writes, 403, bad checksums)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from conftest import aws_environ
from wheel_factory import BackendFactory, offline_args

import artifacts
from environments import ENVIRONMENTS, REPO_ROOT
from scripts.build.layer import LayerRequest, build_layer
from scripts.build.lockfile import LockSource
from scripts.cli import main
from scripts.errors import ChecksumMismatchError
from scripts.store import S3Store
from scripts.store.s3 import PROBE

PREFIX = "lambda/"


@dataclass(frozen=True)
class Case:
    make_backend: BackendFactory
    wheelhouse: Path
    work: Path


@pytest.fixture
def case(make_backend: BackendFactory, wheelhouse: Path, tmp_path: Path) -> Case:
    return Case(make_backend, wheelhouse, tmp_path)


def layer_args(backend: Path, bucket: str, work: Path, wheelhouse: Path) -> list[str]:
    return [
        "build-layer",
        "--env",
        "staging",
        "--backend-dir",
        str(backend),
        "--store",
        f"s3://{bucket}/{PREFIX}",
        "--build-dir",
        str(work / "build"),
        "--manifest",
        str(work / "manifest.json"),
        *offline_args(wheelhouse),
        "--json",
    ]


def request_for(backend: Path, work: Path, wheelhouse: Path) -> LayerRequest:
    return LayerRequest(
        lock=LockSource(lock_file=backend / "poetry.lock"),
        runtime="python3.12",
        architecture="x86_64",
        build_dir=work / "build",
        manifest_path=work / "manifest.json",
        index_args=offline_args(wheelhouse),
        bytecode=False,
    )


def calls(session_events: Any, operation: str) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        # The preflight's write check is a PutObject S3 refuses on its condition: no write.
        if not params["Key"].endswith(PROBE):
            seen.append(params)

    session_events.register(f"provide-client-params.s3.{operation}", record)
    return seen


@pytest.fixture
def default_session_events(aws_env_vars: str) -> Any:
    """Hooks on boto3's default session: the clients `scripts.cli.main` makes use it."""
    boto3.setup_default_session()
    assert boto3.DEFAULT_SESSION is not None
    return boto3.DEFAULT_SESSION.events


def test_upload_verified_then_skip_on_second_run(
    case: Case,
    bucket: str,
    aws_client: Callable[[str], Any],
    default_session_events: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    backend = case.make_backend([("alpha", "1.0"), ("beta", "2.0")])
    puts = calls(default_session_events, "PutObject")
    assert main(layer_args(backend, bucket, case.work, case.wheelhouse)) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["built"] is True
    assert first["key"] == f"{PREFIX}layer-{first['hash']}.zip"
    assert first["latest_key"] == f"{PREFIX}layer.zip"
    s3 = aws_client("s3")
    for key in (first["key"], first["latest_key"]):
        head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
        assert head["ChecksumSHA256"] == first["code_sha256"]
        assert head["ContentLength"] == first["zip_bytes"]
    manifest = json.loads(
        s3.get_object(Bucket=bucket, Key=f"{PREFIX}layer-{first['hash']}.json")["Body"].read()
    )
    assert manifest["sha256"] == first["sha256"]
    assert manifest["packages"] == {"alpha": "1.0", "beta": "2.0"}
    assert sorted(p["Key"] for p in puts) == sorted(
        [first["key"], first["latest_key"], f"{PREFIX}layer-{first['hash']}.json"]
    )

    puts.clear()
    assert main(layer_args(backend, bucket, case.work / "again", case.wheelhouse)) == 0
    captured = capsys.readouterr()
    second = json.loads(captured.out)
    assert second["built"] is False
    assert second["sha256"] == first["sha256"]
    assert "cache hit" in captured.err
    assert puts == []


def test_racing_write_of_the_same_content_is_verified_not_replaced(
    case: Case,
    bucket: str,
    aws_client: Callable[[str], Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    backend = case.make_backend([("beta", "2.0")])
    request = request_for(backend, case.work, case.wheelhouse)
    ours, racer = aws_client("s3"), aws_client("s3")
    puts: list[str] = []

    def race(params: dict[str, Any], **_: Any) -> None:
        key = params["Key"]
        if key.endswith(PROBE):
            return  # the preflight's write check: refused on its condition, nothing written
        puts.append(key)
        if key.endswith(".zip") and "layer-" in key and len(puts) == 1:
            # Another CI run finishes the same build between our head and our put.
            path = request.build_dir / key.removeprefix(PREFIX)
            racer.put_object(
                Bucket=bucket, Key=key, Body=path.read_bytes(), ChecksumAlgorithm="SHA256"
            )

    ours.meta.events.register("provide-client-params.s3.PutObject", race)
    result = build_layer(request, S3Store(ours, bucket, PREFIX))
    assert result.built is True
    assert "written by another build with the same checksum: kept" in capsys.readouterr().err
    head = ours.head_object(Bucket=bucket, Key=f"{PREFIX}layer.zip", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == result.manifest["code_sha256"]


def test_racing_write_of_different_content_stops_before_layer_zip(
    make_backend: BackendFactory,
    wheelhouse: Path,
    tmp_path: Path,
    bucket: str,
    aws_client: Callable[[str], Any],
) -> None:
    backend = make_backend([("beta", "2.0")])
    ours, racer = aws_client("s3"), aws_client("s3")

    def race(params: dict[str, Any], **_: Any) -> None:
        if "layer-" in params["Key"] and params["Key"].endswith(".zip"):
            racer.put_object(
                Bucket=bucket, Key=params["Key"], Body=b"not our layer", ChecksumAlgorithm="SHA256"
            )

    ours.meta.events.register("provide-client-params.s3.PutObject", race)
    with pytest.raises(ChecksumMismatchError, match="differs from the built"):
        build_layer(request_for(backend, tmp_path, wheelhouse), S3Store(ours, bucket, PREFIX))
    keys = [o["Key"] for o in racer.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert len(keys) == 1
    assert keys[0].startswith(f"{PREFIX}layer-")  # the racer's; no layer.zip, no manifest


def test_403_on_the_existence_check_is_an_error_not_absent(
    case: Case,
    bucket: str,
    default_session_events: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    backend = case.make_backend([("beta", "2.0")])

    def forbidden(**_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        response = AWSResponse("https://s3", 403, {}, None)  # type: ignore[arg-type]
        parsed = {
            "Error": {"Code": "403", "Message": "Forbidden"},
            "ResponseMetadata": {"HTTPStatusCode": 403},
        }
        return response, parsed

    default_session_events.register("before-call.s3.HeadObject", forbidden)
    puts = calls(default_session_events, "PutObject")
    code = main(layer_args(backend, bucket, case.work, case.wheelhouse))
    err = capsys.readouterr().err
    assert code == 1
    assert "access denied" in err
    assert "403" in err
    assert "install wheels" not in err  # stopped before building
    assert puts == []


def test_checksum_mismatch_after_upload_leaves_layer_zip_alone(
    make_backend: BackendFactory,
    wheelhouse: Path,
    tmp_path: Path,
    bucket: str,
    aws_client: Callable[[str], Any],
) -> None:
    backend = make_backend([("alpha", "1.0"), ("beta", "2.0")])
    client = aws_client("s3")
    client.put_object(Bucket=bucket, Key=f"{PREFIX}layer.zip", Body=b"previous layer")
    heads: list[str] = []

    def remember(params: dict[str, Any], **_: Any) -> None:
        heads.append(params["Key"])

    def corrupt(parsed: dict[str, Any], **_: Any) -> None:
        key = heads[-1]
        if "layer-" in key and key.endswith(".zip") and "ChecksumSHA256" in parsed:
            parsed["ChecksumSHA256"] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

    client.meta.events.register("provide-client-params.s3.HeadObject", remember)
    client.meta.events.register("after-call.s3.HeadObject", corrupt)
    request = request_for(backend, tmp_path, wheelhouse)
    with pytest.raises(ChecksumMismatchError) as caught:
        build_layer(request, S3Store(client, bucket, PREFIX))
    assert caught.value.exit_code == 1
    clean = aws_client("s3")
    previous = clean.get_object(Bucket=bucket, Key=f"{PREFIX}layer.zip")["Body"].read()
    assert previous == b"previous layer"
    keys = [o["Key"] for o in clean.list_objects_v2(Bucket=bucket)["Contents"]]
    assert not [k for k in keys if k.endswith(".json")]  # no manifest: not a cache hit

    # Without the fault, the next run verifies the object that is there and completes.
    result = build_layer(request, S3Store(clean, bucket, PREFIX))
    assert result.built is True
    head = clean.head_object(Bucket=bucket, Key=f"{PREFIX}layer.zip", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == result.manifest["code_sha256"]


def test_build_backend_uses_the_environment_bucket_from_standard_settings(
    moto_server: str, aws_client: Callable[[str], Any], tmp_path: Path
) -> None:
    staging = ENVIRONMENTS["staging"]
    s3 = aws_client("s3")
    existing = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    if staging.artifact_bucket not in existing:
        s3.create_bucket(
            Bucket=staging.artifact_bucket,
            CreateBucketConfiguration={"LocationConstraint": staging.region},
        )
    # A subprocess: the endpoint reaches it only through AWS_ENDPOINT_URL.
    environ = aws_environ(moto_server)
    environ.pop("PYTHONPATH", None)
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "scripts",
            "build-backend",
            "--env",
            "staging",
            "--build-dir",
            str(tmp_path),
            "--json",
        ],
        cwd=REPO_ROOT,
        env=environ,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout)
    assert result["key"] == staging.key_prefix + artifacts.package_zip(result["hash"])
    assert result["latest_key"] == staging.key_prefix + artifacts.PACKAGE_LATEST
    for key in (result["key"], result["latest_key"]):
        head = s3.head_object(Bucket=staging.artifact_bucket, Key=key, ChecksumMode="ENABLED")
        assert head["ChecksumSHA256"] == result["code_sha256"]
    assert result["zip_bytes"] < 1024 * 1024
    manifest = json.loads(
        s3.get_object(Bucket=staging.artifact_bucket, Key=f"lambda/backend-{result['hash']}.json")[
            "Body"
        ].read()
    )
    assert manifest["version"] == (staging.backend_dir / "VERSION").read_text().strip()


def test_a_missing_bucket_is_found_before_anything_is_built(
    case: Case, aws_env_vars: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """build-layer found a missing bucket only at the upload, after the whole build."""
    backend = case.make_backend([("alpha", "1.0")])
    code = main(layer_args(backend, "no-such-bucket", case.work, case.wheelhouse))
    captured = capsys.readouterr()
    assert code == 2, captured.err
    assert "bucket no-such-bucket does not exist" in captured.err
    assert "install" not in captured.err
    assert json.loads(captured.out)["exit_code"] == 2
    assert not list((case.work / "build").glob("*.zip"))
