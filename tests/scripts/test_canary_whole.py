"""A canary that always ends whole (issue 16, part 4).

- Alarms are read before any change: a misspelled (missing) or unreadable alarm refuses
  the release with nothing changed. Before, a typo was found after 10 % had moved.
- Any failure during the bake -- CloudWatch answering 500, a bug -- puts every alias back
  (on the old version, weights gone, `$LATEST` as before), records `failed` with the
  reason, releases the lock. Before, DescribeAlarms failing left every alias at 90/10,
  the record `started`, and no undo.
- Inputs are checked before anything runs: finite numbers, a weight Lambda is sent that
  moves traffic, `--bake` only with `--canary`: exit 2, one line naming the fix.
- The bake reports remaining time and alarm states (rewritten in place on a terminal).
- `status` tells a live bake (its run renews the lock) from a dead one, and after a
  canary killed with SIGKILL `rollback --previous` returns to the release callers were
  last fully served, not one further back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from cli_world import ENV, Cli, target_of, wait_until
from lambda_double import LambdaDouble
from lambda_world import World

from scripts.cli import main
from scripts.errors import EXIT_BAD_INPUT, BadInputError, ToolError
from scripts.release import history
from scripts.release.canary import Canary
from scripts.release.deploy import deploy
from scripts.release.lock import read_holder
from scripts.release.release import ReleaseFailedError

WRITES = frozenset(
    {"UpdateFunctionCode", "UpdateFunctionConfiguration", "PublishVersion", "UpdateAlias"}
    | {"CreateAlias", "DeleteAlias", "PublishLayerVersion"}
)


def _alarm(world: World, state: str = "OK") -> str:
    name = f"{world.env.name_prefix}-api-errors"
    cloudwatch = world.client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        MetricName="Errors",
        Namespace="AWS/Lambda",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1.0,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason="test")
    return name


def _weights(world: World) -> dict[str, dict[str, float]]:
    raw = world.raw_lambda()
    return {
        name: dict(
            raw.get_alias(FunctionName=name, Name=world.env.alias_name)
            .get("RoutingConfig", {})
            .get("AdditionalVersionWeights", {})
        )
        for name in world.env.function_names
    }


def _bug_on_second_read(world: World) -> Any:
    reader = world.context().alarms
    assert reader is not None
    reads: list[int] = []

    def read(names: Sequence[str]) -> Mapping[str, str]:
        reads.append(1)
        if len(reads) >= 2:
            raise TypeError("'NoneType' object is not subscriptable")
        return reader(names)

    return read


@pytest.mark.parametrize("failure", ["cloudwatch-500", "a-bug"])
def test_any_failure_during_the_bake_puts_every_alias_back_and_records_why(
    dworld: World, lambda_double: LambdaDouble, failure: str
) -> None:
    dworld.add_aliases()
    alarm = _alarm(dworld)
    served, state = dworld.served(), dworld.state()
    ctx = dworld.context()
    if failure == "cloudwatch-500":
        # The check before the release and the bake's first read pass; then CloudWatch
        # answers 500 to every read (botocore's own retries included).
        lambda_double.fail_other(
            "DescribeAlarms",
            status=500,
            code="InternalFailure",
            message="internal failure",
            after=2,
            times=None,
        )
        reason = "InternalFailure"
    else:
        ctx.alarms = _bug_on_second_read(dworld)
        reason = "TypeError"
    moved = []
    ctx.say = lambda line: moved.append(_weights(dworld)) if "canary:" in line else None

    with pytest.raises(ReleaseFailedError, match="canary switched back: the bake failed"):
        deploy(
            ctx, dworld.target("v1", "v1"), canary=Canary(percent=10, bake_s=60, alarms=(alarm,))
        )

    assert moved and all(list(w.values()) == [0.1] for w in moved[0].values())  # it baked
    assert dworld.served() == served  # every alias on its old version, old code and layers
    assert dworld.state() == state  # $LATEST too
    assert all(w == {} for w in _weights(dworld).values())
    record = history.load_releases(dworld.store, dworld.env.name)[0]
    assert record.state == history.FAILED
    assert "the bake failed" in (record.error or "") and reason in (record.error or "")
    assert record.canary is not None and reason in record.canary["result"]
    assert not read_holder(dworld.store, dworld.env.name)[2]  # lock released


@pytest.mark.parametrize("problem", ["misspelled", "unreadable"])
def test_an_alarm_that_cannot_be_watched_is_refused_before_any_change(
    dworld: World, lambda_double: LambdaDouble, problem: str
) -> None:
    dworld.add_aliases()
    alarm = _alarm(dworld)
    served = dworld.served()
    if problem == "misspelled":
        alarm = alarm.replace("errors", "erors")
        expected: type[ToolError] = BadInputError
        match = f"alarm {alarm} does not exist in CloudWatch: fix alarm_names"
    else:
        lambda_double.fail_other(
            "DescribeAlarms", status=403, code="AccessDenied", message="no", times=None
        )
        expected, match = ToolError, "cannot read alarms .*AccessDenied.*nothing was changed"
    lambda_double.clear_calls()

    with pytest.raises(expected, match=match):
        deploy(
            dworld.context(),
            dworld.target("v1", "v1"),
            canary=Canary(percent=10, bake_s=60, alarms=(alarm,)),
        )

    assert [c.operation for c in lambda_double.calls if c.operation in WRITES] == []
    assert dworld.served() == served
    assert history.load_releases(dworld.store, dworld.env.name) == []
    assert not read_holder(dworld.store, dworld.env.name)[2]


def test_the_bake_shows_time_left_and_alarm_states(dworld: World) -> None:
    dworld.add_aliases()
    alarm = _alarm(dworld)
    plain = dworld.context()
    deploy(plain, dworld.target("v1", "v1"), canary=Canary(percent=10, bake_s=0.3, alarms=(alarm,)))
    terminal = dworld.context()
    rewritten: list[str] = []
    terminal.live = rewritten.append
    deploy(
        terminal, dworld.target("v2", "v2"), canary=Canary(percent=5, bake_s=0.3, alarms=(alarm,))
    )

    assert any(line.endswith(f"s left; {alarm} OK") for line in dworld.said)
    assert any(line.endswith(f"s left; {alarm} OK") for line in rewritten)
    assert rewritten[-1] == ""  # the line is cleared when the bake ends


@pytest.mark.parametrize(
    ("args", "fix"),
    [
        (["--canary", "nan"], "--canary nan: use a percentage from 0.01 to 99.99"),
        (["--canary", "inf"], "--canary inf: use a percentage from 0.01 to 99.99"),
        (["--canary", "0.001"], "weight 0 and move no traffic"),
        (["--canary", "99.999"], "weight 1 and move all the traffic"),
        (["--canary", "10.123"], "steps of 0.01 %; use 10.12"),
        (["--canary", "10", "--bake", "nan"], "--bake nan: use a finite number of seconds"),
        (["--canary", "10", "--bake", "inf"], "--bake inf: use a finite number of seconds"),
        (["--canary", "10", "--bake", "-1"], "--bake -1: use a finite number of seconds"),
        (["--bake", "5"], "--bake 5 needs --canary PERCENT"),
        (["--wait", "nan"], "--wait nan: use a finite number of seconds"),
    ],
)
def test_canary_inputs_are_checked_before_anything_runs(
    aws_env_vars: str, capsys: pytest.CaptureFixture[str], args: list[str], fix: str
) -> None:
    code = main(["deploy", "--env", "local", *args])

    err = capsys.readouterr().err
    assert code == EXIT_BAD_INPUT, err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("error: ") and fix in err


def test_status_tells_a_live_bake_from_a_dead_one_and_rollback_returns_to_the_last_full_release(
    cli: Cli,
) -> None:
    world = cli.world
    deploy(world.context(), world.target("v1", "v1"))
    (r1,) = cli.records()
    canary = cli.start(*cli.deploy_args("v2", "v2", "--canary", "10", "--bake", "600"))
    wait_until(
        lambda: all(list(w.values()) == [0.1] for w in _weights(world).values()),
        "every alias at 10 % on the canary",
        running=canary,
    )
    r2 = cli.records()[0]

    live = cli.run("status", "--env", ENV, "--json")
    canary.kill()
    dead = cli.run("status", "--env", ENV, "--json")
    back = cli.run("rollback", "--env", ENV, "--previous", "--json")

    assert live.code == 0, live
    assert (live.json()["running_release"], live.json()["unfinished_release"]) == (r2.id, None)
    assert f"release {r2.id} is in progress (its run is alive" in live.stderr
    assert "never finished" not in live.stderr
    assert "alive (renewed" in live.json()["lock"]
    assert (dead.json()["running_release"], dead.json()["unfinished_release"]) == (None, r2.id)
    assert f"release {r2.id} never finished (its run died)" in dead.stderr
    assert back.code == 0, back
    assert back.json()["serves"] == r1.id
    assert world.served() == target_of(r1)  # the last release callers were fully served
    assert all(w == {} for w in _weights(world).values())
    records = cli.records()
    assert [r.id for r in records] == [r2.id, r1.id]
    assert records[0].state == history.FAILED
    assert "resolved by a later rollback" in (records[0].error or "")
    assert not cli.lock_present()
