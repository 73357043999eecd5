"""What breaks real deployments, through the Lambda double: lost responses, slow ones,
conflicts, failed updates, racing writers, failures during the switch, a history that
cannot be written, a corrupted package. After each, every function is where the release
found it (verified by reading), or the line for it says exactly why not.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from lambda_double import LambdaDouble
from lambda_world import World, fast_timing

from scripts.errors import ChecksumMismatchError, ToolError
from scripts.release import history
from scripts.release.deploy import deploy
from scripts.release.engine import Status
from scripts.release.release import ReleaseFailedError
from scripts.store import Store, Stored

CONFLICT = ("ResourceConflictException", "The operation cannot be performed at this time.")


def _statuses(err: ReleaseFailedError) -> dict[str, Status]:
    return {name: run.status for name, run in err.runs.items()}


def test_a_lost_response_after_lambda_applied_the_change_is_put_back_too(
    dworld: World, lambda_double: LambdaDouble
) -> None:
    # Today's failure: the function whose code update "failed" (the response was lost
    # after Lambda applied it) was reported untouched and left on new code + old layer.
    api_fn, worker = dworld.env.function_names[0], dworld.env.function_names[-1]
    before, served = dworld.state(), dworld.served()
    lambda_double.lose_response("UpdateFunctionCode", function=api_fn)
    lambda_double.fail(
        "UpdateFunctionConfiguration",
        status=500,
        code="ServiceException",
        message="injected",
        function=worker,
        times=None,
    )

    with pytest.raises(ReleaseFailedError) as caught:
        deploy(dworld.context(), dworld.target("v1", "v1"))

    assert dworld.state() == before
    assert dworld.served() == served
    assert _statuses(caught.value)[api_fn] is Status.RESTORED
    assert "landed although the call failed" in " ".join(caught.value.runs[api_fn].notes)
    record = history.load_releases(dworld.store, dworld.env.name)[0]
    assert record.state == history.FAILED
    outcome = record.functions[api_fn].outcome
    assert outcome is not None
    assert outcome["status"] == "restored"


def test_a_lost_response_alone_does_not_fail_the_release(
    dworld: World, lambda_double: LambdaDouble
) -> None:
    target = dworld.target("v1", "v1")
    lambda_double.lose_response("UpdateFunctionCode", function=dworld.env.function_names[1])
    lambda_double.lose_response("UpdateAlias", function=dworld.env.function_names[2])

    result = deploy(dworld.context(), target)

    assert result["state"] == "succeeded"
    assert {code for _, code, _ in dworld.served().values()} == {target.package.code_sha256}  # type: ignore[union-attr]


def test_a_response_slower_than_the_client_timeout_is_read_back(
    dworld: World, lambda_double: LambdaDouble
) -> None:
    # The client gives up after 3 s (ONE_ATTEMPT); Lambda published the version anyway.
    lambda_double.slow_response("PublishVersion", 4.0, function=dworld.env.function_names[0])
    target = dworld.target("v1", "v1")

    result = deploy(dworld.context(), target)

    assert result["state"] == "succeeded"
    versions = dworld.raw_lambda().list_versions_by_function(
        FunctionName=dworld.env.function_names[0]
    )["Versions"]
    codes = [v["CodeSha256"] for v in versions if v["Version"] != "$LATEST"]
    assert codes.count(target.package.code_sha256) == 1  # type: ignore[union-attr]


def test_conflicts_are_retried_with_backoff(dworld: World, lambda_double: LambdaDouble) -> None:
    name = dworld.env.function_names[1]
    lambda_double.fail(
        "UpdateFunctionConfiguration",
        status=409,
        code=CONFLICT[0],
        message=CONFLICT[1],
        function=name,
        times=2,
    )
    sleeps: list[float] = []
    ctx = dworld.context(timing=fast_timing(sleeps))

    result = deploy(ctx, dworld.target("v1", "v1"))

    assert result["state"] == "succeeded"
    assert sleeps.count(0.5) >= 1 and 1.0 in sleeps


def test_conflicts_that_never_clear_put_everything_back_and_no_alias_moves(
    dworld: World, lambda_double: LambdaDouble
) -> None:
    dworld.add_aliases()
    before, served = dworld.state(), dworld.served()
    lambda_double.fail(
        "UpdateFunctionConfiguration",
        status=409,
        code=CONFLICT[0],
        message=CONFLICT[1],
        function=dworld.env.function_names[0],
        times=None,
    )

    with pytest.raises(ReleaseFailedError, match="update in progress"):
        deploy(dworld.context(), dworld.target("v1", "v1"))

    assert dworld.state() == before
    assert dworld.served() == served
    assert lambda_double.calls_to("UpdateAlias") == []


def test_an_update_that_settles_as_failed_puts_every_function_back(
    dworld: World, lambda_double: LambdaDouble
) -> None:
    before, served = dworld.state(), dworld.served()
    failing = dworld.env.function_names[-1]
    lambda_double.fail_update("UpdateFunctionCode", function=failing)

    with pytest.raises(ReleaseFailedError) as caught:
        deploy(dworld.context(), dworld.target("v1", "v1"))

    assert dworld.state() == before
    assert dworld.served() == served
    assert "LastUpdateStatus Failed" in (caught.value.runs[failing].error or "")
    lines = str(caught.value).splitlines()
    assert len(lines) == 1 + len(dworld.env.function_names)
    assert "restored" in lines[0]


def test_a_racing_writer_is_never_overwritten_and_the_line_says_so(
    dworld: World, lambda_double: LambdaDouble
) -> None:
    # Another writer changes one function's layers between our code update and our layer
    # update: our guarded write is refused (412); its change must survive the restore.
    racer = dworld.env.function_names[0]
    raw = dworld.raw_lambda()

    def race(**_: object) -> None:
        raw.update_function_configuration(FunctionName=racer, Layers=[])
        raw.get_waiter("function_updated_v2").wait(
            FunctionName=racer, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
        )

    once: list[bool] = []

    def before_layers(params: dict[str, object], **_: object) -> None:
        if params.get("FunctionName") == racer and not once:
            once.append(True)
            race()

    dworld.lam.meta.events.register(
        "provide-client-params.lambda.UpdateFunctionConfiguration", before_layers
    )

    with pytest.raises(ReleaseFailedError) as caught:
        deploy(dworld.context(), dworld.target("v1", "v1"))

    run = caught.value.runs[racer]
    assert run.status is Status.LEFT
    assert "changed since our write" in " ".join(run.notes)
    assert dworld.state()[racer][1] == ()  # the racer's change stands
    assert "NOT fully restored" in str(caught.value).splitlines()[0]


def test_a_failure_during_the_switch_puts_every_alias_back(
    dworld: World, lambda_double: LambdaDouble
) -> None:
    dworld.add_aliases()
    before, served = dworld.state(), dworld.served()
    lambda_double.fail(
        "UpdateAlias",
        status=500,
        code="ServiceException",
        message="injected",
        function=dworld.env.function_names[2],
        times=1,
    )

    with pytest.raises(ReleaseFailedError, match="switch failed"):
        deploy(dworld.context(), dworld.target("v1", "v1"))

    assert dworld.served() == served
    assert dworld.state() == before


@dataclass
class FailingRecords:
    """A store whose release-record writes fail from the `fail_from`-th on."""

    inner: Store
    fail_from: int
    writes: int = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def put_bytes(
        self, name: str, data: bytes, *, overwrite: bool, if_match: str | None = None
    ) -> str:
        if "/releases/" in name:
            self.writes += 1
            if self.writes >= self.fail_from:
                raise ToolError(f"{name}: PutObject failed: injected 500")
        return self.inner.put_bytes(name, data, overwrite=overwrite, if_match=if_match)

    def get(self, name: str) -> Stored | None:
        return self.inner.get(name)


def test_a_release_whose_end_cannot_be_recorded_is_put_back(
    dworld: World, lambda_double: LambdaDouble
) -> None:
    before, served = dworld.state(), dworld.served()
    ctx = dworld.context()
    # 1: started, 2: versions found, 3: succeeded (fails), 4: failed (fails too).
    ctx.store = FailingRecords(dworld.store, fail_from=3)  # type: ignore[assignment]

    with pytest.raises(ReleaseFailedError, match="history write failed") as caught:
        deploy(ctx, dworld.target("v1", "v1"))

    assert dworld.state() == before
    assert dworld.served() == served
    assert "failure record was not written" in caught.value.headline


def test_a_release_that_cannot_record_its_start_changes_nothing(
    dworld: World, lambda_double: LambdaDouble
) -> None:
    ctx = dworld.context()
    ctx.store = FailingRecords(dworld.store, fail_from=1)  # type: ignore[assignment]
    lambda_double.clear_calls()

    with pytest.raises(ToolError, match="injected 500"):
        deploy(ctx, dworld.target("v1", "v1"))

    written = {c.operation for c in lambda_double.calls} & {
        "UpdateFunctionCode",
        "UpdateFunctionConfiguration",
        "PublishVersion",
        "CreateAlias",
        "UpdateAlias",
    }
    assert written == set()


def test_a_truncated_package_without_checksum_is_refused_before_any_function_changes(
    dworld: World, lambda_double: LambdaDouble
) -> None:
    target = dworld.target("v1", "v1")
    key = target.package.key  # type: ignore[union-attr]
    body = dworld.s3.get_object(Bucket=dworld.store.bucket, Key=key)["Body"].read()
    # Replaced later by a plain upload: no S3 checksum to catch it.
    dworld.s3.put_object(Bucket=dworld.store.bucket, Key=key, Body=body[: len(body) // 2])
    lambda_double.clear_calls()

    from scripts.release.deploy import target_from_store
    from scripts.release.sources import Sources

    with pytest.raises(ChecksumMismatchError, match="replaced or truncated"):
        target_from_store(
            Sources(dworld.store),
            dworld.env,
            layer_hash=target.layer.layer_hash,  # type: ignore[union-attr]
            package_hash=key.rsplit("backend-", 1)[1][:16],
        )
    assert lambda_double.calls == []
