"""The Lambda double runs code: `Invoke` on $LATEST, a version or an alias (weights
honoured), with the version's own package and layers, its environment variables, its
timeout, and Lambda's error shape. Needs the runtime's Python (python3.12) on the host.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from conftest import ONE_ATTEMPT
from lambda_double import LambdaDouble
from lambda_world import World, make_world, zip_bytes
from running_code import running_world, upload_running_package


@pytest.fixture
def rworld(lambda_double: LambdaDouble, python312: str) -> World:
    return running_world(make_world(lambda_double.endpoint, lambda_config=ONE_ATTEMPT))


def _invoke(world: World, name: str, event: Any, **extra: Any) -> tuple[dict[str, Any], Any]:
    answer = world.raw_lambda().invoke(
        FunctionName=name, Payload=json.dumps(event).encode(), **extra
    )
    return dict(answer), json.loads(answer["Payload"].read() or b"null")


def _update(world: World, name: str, files: dict[str, str], **config: Any) -> None:
    lam = world.raw_lambda()
    lam.update_function_code(FunctionName=name, ZipFile=zip_bytes(files))
    lam.get_waiter("function_updated_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0, "MaxAttempts": 500}
    )
    if config:
        lam.update_function_configuration(FunctionName=name, **config)
        lam.get_waiter("function_updated_v2").wait(
            FunctionName=name, WaiterConfig={"Delay": 0, "MaxAttempts": 500}
        )


def test_invoke_runs_the_alias_version_with_its_layer_and_variables(rworld: World) -> None:
    api = rworld.env.function_names[0]
    rworld.raw_lambda().update_function_configuration(
        FunctionName=api, Environment={"Variables": {"ENVIRONMENT": "from-config"}}
    )

    answer, payload = _invoke(rworld, api, {"version": True}, Qualifier=rworld.env.alias_name)

    assert "FunctionError" not in answer
    assert answer["ExecutedVersion"] == "1"
    # Version 1 was published before the variable was set: it runs without it.
    assert payload == {"version": "v0", "dep": "v0", "env": None, "function_version": "1"}
    _, latest = _invoke(rworld, api, {"version": True})
    assert latest["env"] == "from-config" and latest["function_version"] == "$LATEST"


def test_a_handler_error_has_lambdas_error_shape(rworld: World) -> None:
    answer, payload = _invoke(rworld, rworld.env.function_names[1], {"fail": True})

    assert answer["StatusCode"] == 200
    assert answer["FunctionError"] == "Unhandled"
    assert answer["ResponseMetadata"]["HTTPHeaders"]["x-amz-function-error"] == "Unhandled"
    assert payload["errorType"] == "RuntimeError"
    assert payload["errorMessage"] == "asked to fail"
    assert any("asked to fail" in line for line in payload["stackTrace"])


def test_a_layer_missing_a_module_fails_at_import(rworld: World) -> None:
    name = rworld.env.function_names[0]
    upload_running_package(rworld, "v1", needs="dep_missing")
    body = rworld.store.read_bytes("backend.zip")
    rworld.raw_lambda().update_function_code(FunctionName=name, ZipFile=body)

    answer, payload = _invoke(rworld, name, {})

    assert answer["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Runtime.ImportModuleError"
    assert "dep_missing" in payload["errorMessage"]


def test_a_handler_over_its_timeout_is_stopped(rworld: World) -> None:
    name = rworld.env.function_names[2]
    slow = {"app/main.py": "import time\ndef handler(e, c):\n    time.sleep(30)\n"}
    _update(rworld, name, slow, Timeout=1, Handler="app.main.handler", Layers=[])

    answer, payload = _invoke(rworld, name, {}, LogType="Tail")

    assert answer["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in payload["errorMessage"]
    assert "Task timed out" in base64.b64decode(answer["LogResult"]).decode()


def test_alias_weights_choose_the_extra_version_by_a_seeded_draw(
    rworld: World, lambda_double: LambdaDouble
) -> None:
    name = rworld.env.function_names[0]
    upload_running_package(rworld, "v1")
    rworld.raw_lambda().update_function_code(
        FunctionName=name, ZipFile=rworld.store.read_bytes("backend.zip")
    )
    rworld.raw_lambda().get_waiter("function_updated_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0, "MaxAttempts": 500}
    )
    version = rworld.raw_lambda().publish_version(FunctionName=name)["Version"]
    rworld.raw_lambda().update_alias(
        FunctionName=name,
        Name=rworld.env.alias_name,
        RoutingConfig={"AdditionalVersionWeights": {version: 0.5}},
    )

    seen = [
        _invoke(rworld, name, {"version": True}, Qualifier=rworld.env.alias_name) for _ in range(12)
    ]

    executed = {answer["ExecutedVersion"] for answer, _ in seen}
    assert executed == {"1", version}  # both ran: 12 draws at 50% (seed 0)
    assert all(p["version"] == ("v0" if a["ExecutedVersion"] == "1" else "v1") for a, p in seen)


def test_the_handlers_output_reaches_cloudwatch_logs_in_lambdas_stream_names(
    rworld: World,
) -> None:
    name = rworld.env.function_names[0]

    _invoke(rworld, name, {"log_error": True}, Qualifier="1")

    logs = rworld.client("logs")
    streams = logs.describe_log_streams(logGroupName=f"/aws/lambda/{name}")["logStreams"]
    assert [s["logStreamName"].split("/")[3][:3] for s in streams] == ["[1]"]
    events = logs.get_log_events(
        logGroupName=f"/aws/lambda/{name}", logStreamName=streams[0]["logStreamName"]
    )["events"]
    messages = [e["message"] for e in events]
    assert messages[0].startswith("START RequestId:") and "[ERROR] something broke" in messages[1]
