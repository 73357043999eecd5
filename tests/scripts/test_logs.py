"""`logs`: the functions' CloudWatch Logs on moto, in streams named like Lambda's
(`YYYY/MM/DD/[VERSION]id`), filtered to one version, merged by time; and a canary's bake
printing the new version's error lines as they appear (code really running in the double).
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from cli_world import Cli, wait_until
from conftest import ONE_ATTEMPT
from lambda_double import LambdaDouble
from lambda_world import make_world
from running_code import running_world, upload_running_package

from environments import ENVIRONMENTS
from scripts.errors import BadInputError
from scripts.release.canary import Canary
from scripts.release.deploy import deploy, target_from_store
from scripts.release.logs import Follower, Source, parse_since, read, sources_for
from scripts.release.sources import Sources


def _ms(ago_s: float) -> int:
    return int((time.time() - ago_s) * 1000)


def _stream(version: str) -> str:
    return f"{datetime.now(UTC):%Y/%m/%d}/[{version}]{uuid.uuid4().hex}"


def _write(logs: Any, group: str, version: str, events: list[tuple[float, str]]) -> None:
    """One stream of `version` with (seconds ago, message) events."""
    stream = _stream(version)
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[{"timestamp": _ms(ago), "message": text} for ago, text in events],
    )


@pytest.fixture
def logs(aws_client: Callable[[str], Any]) -> Any:
    return aws_client("logs")


def test_one_versions_lines_of_several_functions_merged_by_time(logs: Any) -> None:
    api, worker = f"/aws/lambda/a-{uuid.uuid4().hex}", f"/aws/lambda/w-{uuid.uuid4().hex}"
    _write(logs, api, "4", [(50, "api new 1"), (10, "api new 3")])
    _write(logs, api, "3", [(40, "api old")])
    _write(logs, worker, "4", [(30, "worker new 2")])
    sources = [
        Source(function="api", group=api, version="4"),
        Source(function="worker", group=worker, version="4"),
    ]

    lines = read(logs, sources, _ms(600), _ms(0))

    assert [(x.function, x.version, x.message) for x in lines] == [
        ("api", "4", "api new 1"),
        ("worker", "4", "worker new 2"),
        ("api", "4", "api new 3"),
    ]
    every = read(logs, [Source(function="api", group=api)], _ms(600), _ms(0))
    assert [x.message for x in every] == ["api new 1", "api old", "api new 3"]
    recent = read(logs, sources, _ms(20), _ms(0))  # --since 20s
    assert [x.message for x in recent] == ["api new 3"]


def test_a_group_that_does_not_exist_yet_has_no_lines(logs: Any) -> None:
    missing = Source(function="api", group=f"/aws/lambda/none-{uuid.uuid4().hex}", version="1")
    assert read(logs, [missing], _ms(600), _ms(0)) == []


def test_follow_returns_each_event_once(logs: Any) -> None:
    group = f"/aws/lambda/f-{uuid.uuid4().hex}"
    _write(logs, group, "2", [(5, "first")])
    follower = Follower(logs, [Source(function="api", group=group, version="2")], _ms(60))

    assert [x.message for x in follower.poll(_ms(0))] == ["first"]
    _write(logs, group, "2", [(1, "second")])
    assert [x.message for x in follower.poll(_ms(0))] == ["second"]
    assert follower.poll(_ms(0)) == []


def test_bad_arguments_name_the_fix() -> None:
    env = ENVIRONMENTS["local"]
    with pytest.raises(BadInputError, match="local: no function nope; configured: api"):
        sources_for(env, ["nope"])
    with pytest.raises(BadInputError, match="--since '10 minutes'"):
        parse_since("10 minutes")
    assert parse_since("2h") == 7200
    assert sources_for(env, ["api"], version="7")[0].group == "/aws/lambda/bluemoxon-local-api"


def test_logs_of_a_release_through_the_cli(cli: Cli) -> None:
    done = cli.run(*cli.deploy_args("v1", "v1"))
    assert done.code == 0, done.stderr
    record = cli.records()[0]
    logs = cli.world.client("logs")
    group = "/aws/lambda/bluemoxon-local-api"
    new = record.functions["bluemoxon-local-api"].target.version
    assert new is not None
    _write(logs, group, new, [(20, "START new"), (5, "[ERROR] new broke")])
    _write(logs, group, "1", [(10, "old line")])

    done = cli.run("logs", "--env", "local", "api", "--release", record.id, "--since", "5m")

    assert done.code == 0, done.stderr
    assert [line.split(" ", 1)[1] for line in done.stdout.splitlines()] == [
        f"api [{new}] START new",
        f"api [{new}] [ERROR] new broke",
    ]
    bad = cli.run("logs", "--env", "local", "nope")
    assert bad.code == 2 and "no function nope" in bad.stderr


def test_follow_prints_new_lines_until_interrupted(cli: Cli) -> None:
    logs = cli.world.client("logs")
    group = "/aws/lambda/bluemoxon-local-cleanup"
    _write(logs, group, "3", [(5, "before")])
    running = cli.start("logs", "--env", "local", "cleanup", "--version", "3", "--follow")
    wait_until(lambda: "before" in running.out.read_text(), "the first line", running=running)

    _write(logs, group, "3", [(0, "after")])
    _write(logs, group, "4", [(0, "another version")])
    wait_until(lambda: "after" in running.out.read_text(), "the new line", running=running)
    running.signal(signal.SIGINT)
    done = running.wait()

    assert done.code == 0, done.stderr
    assert [line.split(" ", 1)[1] for line in done.stdout.splitlines()] == [
        "cleanup [3] before",
        "cleanup [3] after",
    ]


def test_a_canary_bake_prints_the_new_versions_error_lines_as_they_appear(
    lambda_double: LambdaDouble, python312: str
) -> None:
    world = running_world(make_world(lambda_double.endpoint, lambda_config=ONE_ATTEMPT))
    target = target_from_store(
        Sources(world.store),
        world.env,
        layer_hash=world.upload_layer("v1"),
        package_hash=upload_running_package(world, "v1", needs="dep_v1"),
    )
    ctx = world.context()
    ctx.logs = lambda: world.client("logs")
    api = world.env.function_names[0]
    baking = threading.Event()
    reader = ctx.alarms
    reads: list[Any] = []

    def alarms(names: Any) -> Any:
        # The first read checks the alarms before any change; the second is in the bake.
        reads.append(names)
        if len(reads) >= 2:
            baking.set()
        return reader(names) if reader else {}

    ctx.alarms = alarms

    def errors_during_the_bake() -> None:
        baking.wait(30)
        # Callers of the new version hit an error while it bakes; the old one is quiet.
        world.raw_lambda().invoke(FunctionName=api, Qualifier="2", Payload=b'{"log_error": 1}')
        world.raw_lambda().invoke(FunctionName=api, Qualifier="1", Payload=b'{"log_error": 1}')

    caller = threading.Thread(target=errors_during_the_bake)
    caller.start()
    canary = Canary(percent=10, bake_s=4.0, alarms=("quiet",))
    world.client("cloudwatch").put_metric_alarm(
        AlarmName="quiet",
        MetricName="Errors",
        Namespace="AWS/Lambda",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1.0,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )

    result = deploy(ctx, target, canary=canary)
    caller.join()

    assert result["state"] == "succeeded"
    printed = [line for line in world.said if line.startswith("  canary log:")]
    assert printed and all(" api [2] " in line for line in printed)
    assert any("[ERROR] something broke in v1" in line for line in printed)
