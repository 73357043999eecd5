"""The Lambda double against the session's real moto server, through boto3 over HTTP.

Each test checks one real-Lambda behaviour moto lacks (or one moto behaviour that must pass
through). Time-dependent ones use an injected clock, or the fixture's 0.2 s window with a
waiter; nothing asserts wall-clock times.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, ReadTimeoutError, WaiterError
from conftest import TEST_REGION, aws_environ
from lambda_double import LambdaDouble
from lambda_world import World, make_world, zip_bytes

from scripts.release.deploy import deploy

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_lambda.type_defs import AliasRoutingConfigurationTypeDef

STALE = "PreconditionFailedException"


class FakeClock:
    """The double's clock, moved by hand: windows and URL expiry without sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def lambda_client(endpoint: str, **config: Any) -> LambdaClient:
    """A client on `endpoint`; `config` adds botocore settings (retries, timeouts)."""
    settings = Config(**config) if config else None
    return boto3.client("lambda", region_name=TEST_REGION, endpoint_url=endpoint, config=settings)


def error_code(caught: pytest.ExceptionInfo[ClientError]) -> str:
    return str(caught.value.response["Error"]["Code"])


def sha_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


@pytest.fixture
def dworld(lambda_double: LambdaDouble) -> World:
    """`make_world` on the double's endpoint: a layer and four functions, created through it."""
    world = make_world(lambda_double.endpoint)
    world.upload_layer("v0")
    world.upload_package("v0")
    world.create_functions()
    return world


@pytest.fixture
def fn(dworld: World) -> str:
    return dworld.env.function_names[0]


def start(moto_server: str, **options: Any) -> LambdaDouble:
    return LambdaDouble.start(upstream=moto_server, **options)


# --- RevisionId ----------------------------------------------------------------------------


def test_every_function_write_renews_the_revision_and_a_stale_one_is_refused(
    dworld: World, fn: str, lambda_double: LambdaDouble
) -> None:
    lam = dworld.lam
    r0 = lam.get_function(FunctionName=fn)["Configuration"]["RevisionId"]
    assert r0 == lam.get_function_configuration(FunctionName=fn)["RevisionId"]

    r1 = lam.update_function_configuration(FunctionName=fn, Description="a", RevisionId=r0)[
        "RevisionId"
    ]
    lam.get_waiter("function_updated_v2").wait(
        FunctionName=fn, WaiterConfig={"Delay": 0, "MaxAttempts": 500}
    )
    r2 = lam.get_function_configuration(FunctionName=fn)["RevisionId"]
    # The update's own revision is superseded when it settles, as on real Lambda.
    assert len({r0, r1, r2}) == 3

    for write in (
        lambda rev: lam.update_function_configuration(FunctionName=fn, Timeout=9, RevisionId=rev),
        lambda rev: lam.publish_version(FunctionName=fn, RevisionId=rev),
        lambda rev: lam.add_permission(
            FunctionName=fn,
            StatementId="s3",
            Action="lambda:InvokeFunction",
            Principal="s3.amazonaws.com",
            RevisionId=rev,
        ),
    ):
        with pytest.raises(ClientError) as caught:
            write(r1)
        assert error_code(caught) == STALE
        assert "does not match the latest Revision Id" in str(caught.value)

    published = lam.publish_version(FunctionName=fn, RevisionId=r2)
    r3 = lam.get_function_configuration(FunctionName=fn)["RevisionId"]
    assert r3 != r2  # publishing is a write to $LATEST too
    assert (
        published["RevisionId"]
        == lam.get_function_configuration(FunctionName=fn, Qualifier=published["Version"])[
            "RevisionId"
        ]
    )
    lam.add_permission(
        FunctionName=fn,
        StatementId="s3",
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
        RevisionId=r3,
    )
    assert lam.get_function_configuration(FunctionName=fn)["RevisionId"] not in {r2, r3}
    # Nothing refused reached moto: the stale Timeout=9 update never landed.
    assert lam.get_function_configuration(FunctionName=fn)["Timeout"] != 9


def test_alias_revision_renews_on_every_alias_write_and_a_stale_one_is_refused(
    dworld: World, fn: str
) -> None:
    lam = dworld.lam
    version = lam.publish_version(FunctionName=fn)["Version"]
    ra = lam.create_alias(FunctionName=fn, Name="live", FunctionVersion=version)["RevisionId"]
    assert lam.get_alias(FunctionName=fn, Name="live")["RevisionId"] == ra

    rb = lam.update_alias(FunctionName=fn, Name="live", Description="b", RevisionId=ra)[
        "RevisionId"
    ]
    assert rb != ra
    assert lam.get_alias(FunctionName=fn, Name="live")["RevisionId"] == rb
    assert [a["RevisionId"] for a in lam.list_aliases(FunctionName=fn)["Aliases"]] == [rb]

    with pytest.raises(ClientError) as caught:
        lam.update_alias(FunctionName=fn, Name="live", Description="stale", RevisionId=ra)
    assert error_code(caught) == STALE
    assert lam.get_alias(FunctionName=fn, Name="live")["Description"] == "b"


def test_racing_writers_with_the_same_revision_one_wins(dworld: World, fn: str) -> None:
    revision = dworld.lam.get_function_configuration(FunctionName=fn)["RevisionId"]
    outcomes: list[str] = []

    def write(n: int) -> None:
        try:
            lambda_client(dworld.endpoint).update_function_configuration(
                FunctionName=fn, Description=f"writer {n}", RevisionId=revision
            )
            outcomes.append("ok")
        except ClientError as err:
            outcomes.append(str(err.response["Error"]["Code"]))

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == sorted(["ok", STALE, STALE, STALE])


def test_publish_version_with_another_code_sha256_is_refused(dworld: World, fn: str) -> None:
    lam = dworld.lam
    current = lam.get_function_configuration(FunctionName=fn)["CodeSha256"]
    with pytest.raises(ClientError) as caught:
        lam.publish_version(FunctionName=fn, CodeSha256=sha_b64(b"other"))
    assert error_code(caught) == "InvalidParameterValueException"
    assert "is different from current CodeSHA256 in $LATEST" in str(caught.value)
    assert lam.list_versions_by_function(FunctionName=fn)["Versions"][-1]["Version"] == "$LATEST"
    assert lam.publish_version(FunctionName=fn, CodeSha256=current)["Version"] == "1"


def test_publishing_again_without_an_update_returns_the_same_version(
    dworld: World, fn: str
) -> None:
    lam, waiter = dworld.lam, dworld.lam.get_waiter("function_updated_v2")
    lam.update_function_configuration(FunctionName=fn, Description="before the first publish")
    waiter.wait(FunctionName=fn, WaiterConfig={"Delay": 0, "MaxAttempts": 500})

    # (moto alone publishes "2" here: its first publish does not clear its "updated" flag.)
    assert [lam.publish_version(FunctionName=fn)["Version"] for _ in range(2)] == ["1", "1"]
    lam.update_function_configuration(FunctionName=fn, Description="changed")
    waiter.wait(FunctionName=fn, WaiterConfig={"Delay": 0, "MaxAttempts": 500})
    assert lam.publish_version(FunctionName=fn)["Version"] == "2"


# --- update windows ------------------------------------------------------------------------


def test_an_update_is_in_progress_for_a_while_and_writes_meanwhile_conflict(
    dworld: World, fn: str
) -> None:
    lam = dworld.lam
    key = f"{dworld.store.prefix}backend.zip"
    updated = lam.update_function_code(FunctionName=fn, S3Bucket=dworld.store.bucket, S3Key=key)
    assert updated["LastUpdateStatus"] == "InProgress"
    during = lam.get_function_configuration(FunctionName=fn)
    assert (during["LastUpdateStatus"], during["LastUpdateStatusReasonCode"]) == (
        "InProgress",
        "Creating",
    )
    writes: tuple[Callable[[], object], ...] = (
        lambda: lam.update_function_configuration(FunctionName=fn, Description="x"),
        lambda: lam.publish_version(FunctionName=fn),
    )
    for write in writes:
        with pytest.raises(ClientError) as caught:
            write()
        assert error_code(caught) == "ResourceConflictException"
        assert "An update is in progress for resource: arn:aws:lambda:" in str(caught.value)

    lam.get_waiter("function_updated_v2").wait(
        FunctionName=fn, WaiterConfig={"Delay": 0, "MaxAttempts": 500}
    )
    after = lam.get_function(FunctionName=fn)["Configuration"]
    assert after["LastUpdateStatus"] == "Successful"
    assert "LastUpdateStatusReason" not in after
    lam.update_function_configuration(FunctionName=fn, Description="x")


def test_windows_follow_the_injected_clock(moto_server: str) -> None:
    clock = FakeClock()
    with start(moto_server, update_window_s=5, create_window_s=3, clock=clock) as double:
        world = make_world(double.endpoint)
        world.upload_layer("v0")
        world.upload_package("v0")
        world.create_functions()
        lam, name = world.lam, world.env.function_names[0]
        created = lam.get_function_configuration(FunctionName=name)
        assert (created["State"], created["StateReasonCode"]) == ("Pending", "Creating")
        with pytest.raises(ClientError, match="following state: Pending"):
            lam.update_function_configuration(FunctionName=name, Description="early")

        clock.now += 3
        lam.get_waiter("function_active_v2").wait(FunctionName=name)
        lam.update_function_configuration(FunctionName=name, Description="now")
        clock.now += 4.9
        assert lam.get_function(FunctionName=name)["Configuration"]["LastUpdateStatus"] == (
            "InProgress"
        )
        clock.now += 0.1
        assert lam.get_function(FunctionName=name)["Configuration"]["LastUpdateStatus"] == (
            "Successful"
        )


def test_an_injected_failed_update_settles_as_failed(
    dworld: World, fn: str, lambda_double: LambdaDouble
) -> None:
    fault = lambda_double.fail_update("UpdateFunctionConfiguration", reason="bad layer")
    dworld.lam.update_function_configuration(FunctionName=fn, Description="x")

    with pytest.raises(WaiterError):
        dworld.lam.get_waiter("function_updated_v2").wait(
            FunctionName=fn, WaiterConfig={"Delay": 0, "MaxAttempts": 500}
        )
    config = dworld.lam.get_function_configuration(FunctionName=fn)
    assert (config["LastUpdateStatus"], config["LastUpdateStatusReason"]) == (
        "Failed",
        "bad layer",
    )
    assert fault.fired == 1


# --- faults on the wire --------------------------------------------------------------------


def test_a_lost_response_leaves_the_change_applied(
    dworld: World, fn: str, lambda_double: LambdaDouble
) -> None:
    fault = lambda_double.lose_response("UpdateFunctionConfiguration", function=fn)
    once = lambda_client(lambda_double.endpoint, retries={"total_max_attempts": 1})

    with pytest.raises(ConnectionClosedError):
        once.update_function_configuration(FunctionName=fn, Description="applied")

    assert fault.fired == 1
    assert dworld.lam.get_function_configuration(FunctionName=fn)["Description"] == "applied"


def test_botocore_retries_a_lost_response_by_itself(
    dworld: World, fn: str, lambda_double: LambdaDouble
) -> None:
    lambda_double.lose_response("PublishVersion", function=fn)
    retrying = lambda_client(lambda_double.endpoint, retries={"total_max_attempts": 2})

    retrying.publish_version(FunctionName=fn)

    # The first publish landed unseen; the retry reached Lambda too and, nothing having
    # changed since, got the same version back.
    assert len(lambda_double.calls_to("PublishVersion", function=fn)) == 2
    versions = dworld.lam.list_versions_by_function(FunctionName=fn)["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1"]


def test_a_slow_response_outlasts_a_short_read_timeout(
    dworld: World, fn: str, lambda_double: LambdaDouble
) -> None:
    lambda_double.slow_response("PublishVersion", 5.0, function=fn)
    impatient = lambda_client(
        lambda_double.endpoint, retries={"total_max_attempts": 1}, read_timeout=0.3
    )

    with pytest.raises(ReadTimeoutError):
        impatient.publish_version(FunctionName=fn)

    versions = dworld.lam.list_versions_by_function(FunctionName=fn)["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1"]


def test_an_injected_error_is_answered_without_forwarding(
    dworld: World, fn: str, lambda_double: LambdaDouble
) -> None:
    lam = dworld.lam
    version = lam.publish_version(FunctionName=fn)["Version"]
    lam.create_alias(FunctionName=fn, Name="live", FunctionVersion=version)
    lambda_double.fail("UpdateAlias", status=500, code="ServiceException", message="boom", times=1)
    once = lambda_client(lambda_double.endpoint, retries={"total_max_attempts": 1})

    with pytest.raises(ClientError) as caught:
        once.update_alias(FunctionName=fn, Name="live", Description="never")
    assert error_code(caught) == "ServiceException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert lam.get_alias(FunctionName=fn, Name="live")["Description"] == ""
    # Used up: the next one goes through.
    once.update_alias(FunctionName=fn, Name="live", Description="now")


# --- code ----------------------------------------------------------------------------------


def download(url: str) -> bytes:
    with urllib.request.urlopen(url) as response:  # noqa: S310 (the double's own http URL)
        return bytes(response.read())


def test_code_location_serves_the_code_of_latest_and_of_a_published_version(
    dworld: World, fn: str
) -> None:
    lam = dworld.lam
    first = lam.get_function(FunctionName=fn)
    assert sha_b64(download(first["Code"]["Location"])) == first["Configuration"]["CodeSha256"]
    lam.publish_version(FunctionName=fn)
    lam.update_function_code(FunctionName=fn, ZipFile=zip_bytes({"app/main.py": "v2"}))

    latest = lam.get_function(FunctionName=f"{fn}:$LATEST")
    version = lam.get_function(FunctionName=fn, Qualifier="1")
    assert latest["Configuration"]["CodeSha256"] != version["Configuration"]["CodeSha256"]
    for got in (latest, version):
        assert sha_b64(download(got["Code"]["Location"])) == got["Configuration"]["CodeSha256"]


def test_code_location_expires(moto_server: str) -> None:
    clock = FakeClock()
    with start(moto_server, code_url_ttl_s=600, clock=clock) as double:
        world = make_world(double.endpoint)
        world.upload_layer("v0")
        world.upload_package("v0")
        world.create_functions()
        url = world.lam.get_function(FunctionName=world.env.function_names[0])["Code"]["Location"]
        clock.now += 599
        assert download(url)
        clock.now += 1
        with pytest.raises(urllib.error.HTTPError) as caught:
            download(url)
        assert caught.value.code == 403
        assert b"Request has expired" in caught.value.read()


def test_code_of_a_function_created_behind_its_back_can_be_registered(
    moto_server: str, lambda_double: LambdaDouble
) -> None:
    world = make_world(moto_server)  # straight on moto: the double never sees the code
    package = zip_bytes({"a.py": "behind"})
    name = f"{world.env.name_prefix}-behind"
    world.raw_lambda().create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=world.role_arn,
        Handler="a.h",
        Code={"ZipFile": package},
    )
    url = lambda_client(lambda_double.endpoint).get_function(FunctionName=name)["Code"]["Location"]
    with pytest.raises(urllib.error.HTTPError):
        download(url)

    lambda_double.remember_code(package)
    assert download(url) == package


# --- S3 sources ----------------------------------------------------------------------------


def test_a_missing_s3_object_is_refused_and_nothing_is_applied(dworld: World, fn: str) -> None:
    lam, bucket = dworld.lam, dworld.store.bucket
    message = (
        "Error occurred while GetObject. S3 Error Code: NoSuchKey. "
        "S3 Error Message: The specified key does not exist."
    )
    before_layers = lam.list_layer_versions(LayerName=dworld.env.layer_name)["LayerVersions"]
    with pytest.raises(ClientError) as caught:
        lam.publish_layer_version(
            LayerName=dworld.env.layer_name, Content={"S3Bucket": bucket, "S3Key": "missing.zip"}
        )
    assert error_code(caught) == "InvalidParameterValueException"
    assert caught.value.response["Error"]["Message"] == message
    after_layers = lam.list_layer_versions(LayerName=dworld.env.layer_name)["LayerVersions"]
    assert after_layers == before_layers

    before = lam.get_function_configuration(FunctionName=fn)
    with pytest.raises(ClientError) as caught:
        lam.update_function_code(FunctionName=fn, S3Bucket=bucket, S3Key="missing.zip")
    assert caught.value.response["Error"]["Message"] == message
    after = lam.get_function_configuration(FunctionName=fn)
    assert (after["CodeSha256"], after["RevisionId"]) == (
        before["CodeSha256"],
        before["RevisionId"],
    )


# --- what moto already does, through the double --------------------------------------------


def test_weighted_alias_routing_passes_through(dworld: World, fn: str) -> None:
    lam = dworld.lam
    lam.publish_version(FunctionName=fn)
    lam.update_function_code(FunctionName=fn, ZipFile=zip_bytes({"app/main.py": "v2"}))
    lam.get_waiter("function_updated_v2").wait(
        FunctionName=fn, WaiterConfig={"Delay": 0, "MaxAttempts": 500}
    )
    lam.publish_version(FunctionName=fn)
    routing: AliasRoutingConfigurationTypeDef = {"AdditionalVersionWeights": {"2": 0.25}}
    lam.create_alias(FunctionName=fn, Name="live", FunctionVersion="1", RoutingConfig=routing)
    assert lam.get_alias(FunctionName=fn, Name="live")["RoutingConfig"] == routing


def test_a_deploy_through_the_double_succeeds(dworld: World, lambda_double: LambdaDouble) -> None:
    target = dworld.target("v1", "v1")

    result = deploy(dworld.context(), target)

    assert result["state"] == "succeeded"
    updates = lambda_double.calls_to("UpdateFunctionCode")
    assert sorted(str(c.function) for c in updates) == sorted(dworld.env.function_names)
    assert all(c.body.get("RevisionId") for c in updates)  # the engine's guard reached Lambda
    aliases = lambda_double.calls_to("UpdateAlias")
    assert aliases and all(c.body.get("RevisionId") for c in aliases)


# --- clients ---------------------------------------------------------------------------------


def test_the_call_log_names_operation_function_qualifier_and_body(
    dworld: World, fn: str, lambda_double: LambdaDouble
) -> None:
    lambda_double.clear_calls()
    arn = dworld.lam.get_function_configuration(FunctionName=fn)["FunctionArn"]
    dworld.lam.get_function(FunctionName=f"{arn}:$LATEST")
    dworld.lam.get_function_configuration(FunctionName=":".join(arn.split(":")[4:]))
    dworld.lam.update_function_configuration(FunctionName=fn, Description="logged")
    dworld.lam.publish_layer_version(
        LayerName=dworld.env.layer_name,
        Content={"S3Bucket": dworld.store.bucket, "S3Key": f"{dworld.store.prefix}layer.zip"},
    )

    calls = [(c.operation, c.function, c.qualifier) for c in lambda_double.calls]
    assert calls == [
        ("GetFunctionConfiguration", fn, None),
        ("GetFunction", fn, "$LATEST"),
        ("GetFunctionConfiguration", fn, None),  # a partial ARN: ACCOUNT:function:NAME
        ("UpdateFunctionConfiguration", fn, None),
        ("PublishLayerVersion", dworld.env.layer_name, None),
    ]
    assert lambda_double.calls_to("UpdateFunctionConfiguration")[0].body == {
        "Description": "logged"
    }


CLI_SCRIPT = """
import json, boto3
lam = boto3.client("lambda")
name = {name!r}
out = {{"status": lam.get_function_configuration(FunctionName=name)["LastUpdateStatus"]}}
try:
    lam.update_function_configuration(FunctionName=name, Description="cli", RevisionId="stale")
except lam.exceptions.PreconditionFailedException as err:
    out["stale"] = err.response["Error"]["Code"]
print(json.dumps(out))
"""


def test_a_subprocess_on_aws_endpoint_url_sees_the_same_rules(moto_server: str) -> None:
    # A long window: the subprocess starts slower than the fixture's 0.2 s window lasts.
    with start(moto_server, update_window_s=60) as double:
        world = make_world(double.endpoint)
        world.upload_layer("v0")
        world.upload_package("v0")
        world.create_functions()
        name = world.env.function_names[0]
        world.lam.update_function_configuration(FunctionName=name, Description="settling")

        run = subprocess.run(
            [sys.executable, "-c", CLI_SCRIPT.format(name=name)],
            env=aws_environ(double.endpoint),
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )

        assert json.loads(run.stdout) == {"status": "InProgress", "stale": STALE}
        assert [c.operation for c in double.calls[-2:]] == [
            "GetFunctionConfiguration",
            "UpdateFunctionConfiguration",
        ]
