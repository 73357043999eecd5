"""Callers get releases: canaries watched by alarms, rollbacks that only move aliases, and
the first release onto functions still running fat packages, undone exactly.
"""

from __future__ import annotations

import pytest
from lambda_double import LambdaDouble
from lambda_world import World

from environments import FunctionConfig
from scripts.release import history
from scripts.release.canary import Canary
from scripts.release.deploy import deploy
from scripts.release.release import ReleaseFailedError
from scripts.release.rollback import RollbackRequest, rollback

ALARM = "api-errors"


def _alarm(world: World, state: str | None = None) -> None:
    cloudwatch = world.client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName=f"{world.env.name_prefix}-{ALARM}",
        MetricName="Errors",
        Namespace="AWS/Lambda",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1.0,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    if state:
        cloudwatch.set_alarm_state(
            AlarmName=f"{world.env.name_prefix}-{ALARM}", StateValue=state, StateReason="test"
        )


def _canary(world: World, bake_s: float) -> Canary:
    return Canary(percent=10, bake_s=bake_s, alarms=(f"{world.env.name_prefix}-{ALARM}",))


def test_a_canary_whose_alarm_stays_ok_is_promoted(dworld: World) -> None:
    dworld.add_aliases()
    _alarm(dworld, "OK")
    target = dworld.target("v1", "v1")
    weights_seen: list[dict[str, float]] = []
    ctx = dworld.context()
    reader = ctx.alarms
    assert reader is not None

    def watch(names: object) -> object:
        alias = dworld.raw_lambda().get_alias(
            FunctionName=dworld.env.function_names[0], Name=dworld.env.alias_name
        )
        weights_seen.append(
            dict(alias.get("RoutingConfig", {}).get("AdditionalVersionWeights", {}))
        )
        return reader(names)  # type: ignore[arg-type]

    ctx.alarms = lambda names: dict(watch(names))  # type: ignore[call-overload]

    result = deploy(ctx, target, canary=_canary(dworld, bake_s=0.3))

    assert result["state"] == "succeeded"
    assert any(list(w.values()) == [0.1] for w in weights_seen)  # 10% went to the new one
    served = dworld.served()
    assert {code for _, code, _ in served.values()} == {target.package.code_sha256}  # type: ignore[union-attr]
    record = history.load_releases(dworld.store, dworld.env.name)[0]
    assert record.canary is not None and record.canary["result"] == "promote"
    assert all(
        not dworld.raw_lambda()
        .get_alias(FunctionName=n, Name=dworld.env.alias_name)
        .get("RoutingConfig", {})
        .get("AdditionalVersionWeights")
        for n in dworld.env.function_names
    )


def test_an_alarm_in_alarm_during_the_bake_switches_back_and_is_recorded(dworld: World) -> None:
    dworld.add_aliases()
    _alarm(dworld, "OK")
    served = dworld.served()
    ctx = dworld.context()
    reader = ctx.alarms
    assert reader is not None
    reads: list[object] = []

    def fire_once_baking(names: object) -> object:
        # The first read checks the alarms before any change; the alarm fires after it.
        reads.append(names)
        if len(reads) == 2:
            dworld.client("cloudwatch").set_alarm_state(
                AlarmName=f"{dworld.env.name_prefix}-{ALARM}", StateValue="ALARM", StateReason="5xx"
            )
        return reader(names)  # type: ignore[arg-type]

    ctx.alarms = fire_once_baking  # type: ignore[assignment]

    with pytest.raises(ReleaseFailedError, match="canary switched back: alarm"):
        deploy(ctx, dworld.target("v1", "v1"), canary=_canary(dworld, bake_s=30))

    assert dworld.served() == served
    record = history.load_releases(dworld.store, dworld.env.name)[0]
    assert record.state == history.FAILED
    assert record.canary is not None
    assert "in ALARM" in record.canary["result"]


def test_a_stop_during_the_bake_switches_back(dworld: World) -> None:
    dworld.add_aliases()
    _alarm(dworld, "OK")
    served = dworld.served()
    ctx = dworld.context()
    reader = ctx.alarms
    assert reader is not None

    reads: list[object] = []

    def ctrl_c_once_baking(names: object) -> object:
        # The first read checks the alarms before any change; the second is in the bake.
        reads.append(names)
        if len(reads) == 2:
            ctx.cancel("interrupted by SIGINT")
        return reader(names)  # type: ignore[arg-type]

    ctx.alarms = ctrl_c_once_baking  # type: ignore[assignment]

    with pytest.raises(ReleaseFailedError, match="stopped during the bake"):
        deploy(ctx, dworld.target("v1", "v1"), canary=_canary(dworld, bake_s=30))

    assert dworld.served() == served


def test_rollback_moves_aliases_only_no_upload_no_publish(
    dworld: World, lambda_double: LambdaDouble
) -> None:
    deploy(dworld.context(), dworld.target("v1", "v1"))
    first = dworld.served()
    deploy(dworld.context(), dworld.target("v2", "v2"))
    lambda_double.clear_calls()
    puts: list[str] = []
    dworld.s3.meta.events.register(
        "provide-client-params.s3.PutObject", lambda params, **_: puts.append(params["Key"])
    )
    rollback(dworld.context(), RollbackRequest(previous=True))

    assert dworld.served() == first
    operations = {c.operation for c in lambda_double.calls}
    assert not operations & {
        "UpdateFunctionCode",
        "UpdateFunctionConfiguration",
        "PublishVersion",
        "PublishLayerVersion",
    }
    assert {c.operation for c in lambda_double.calls if c.operation.startswith("Update")} == {
        "UpdateAlias"
    }
    # Only the history and the lock are written: no artifact bytes.
    assert all("/deployments/" in key for key in puts)


def test_the_first_release_onto_fat_packages_is_undone_exactly(
    lambda_double: LambdaDouble, dworld_empty: World
) -> None:
    world = dworld_empty
    original = world.create_legacy_functions()
    before = world.state()

    deploy(world.context(), world.target("v1", "v1"))

    # The code they ran is now in the store, verified against Lambda's CodeSha256.
    record = history.load_releases(world.store, world.env.name)[0]
    for name, entry in record.functions.items():
        assert entry.snapshot is True
        assert entry.before.code_key is not None
        assert entry.before.code_key.startswith("snapshots/")
        assert world.store.head(entry.before.code_key) is not None
        assert entry.before.code_sha256 == original[name]

    rollback(world.context(), RollbackRequest(previous=True))

    assert {name: (code, layers) for name, (_, code, layers) in world.served().items()} == before


def test_alarm_names_are_configured_per_function() -> None:
    config = FunctionConfig(name="api", handler="app.main.handler", alarm_names=("api-5xx",))
    assert config.alarm_names == ("api-5xx",)


def test_canary_percent_and_bake_are_checked() -> None:
    from scripts.errors import BadInputError

    with pytest.raises(BadInputError, match=r"use a percentage from 0\.01 to 99\.99"):
        Canary(percent=100, bake_s=1)
    with pytest.raises(BadInputError, match="--bake"):
        Canary(percent=10, bake_s=-1)
