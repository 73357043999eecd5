"""Pure parts of the Lambda operations: ARNs, layer replacement, conflict backoff."""

from __future__ import annotations

import pytest
from lambda_world import client_error

from scripts.errors import BadInputError
from scripts.release.engine import (
    LambdaOpError,
    Retry,
    parse_layer_version_arn,
    replace_deps_layer,
    with_conflict_retry,
)

DEPS = "arn:aws:lambda:us-west-2:123456789012:layer:bluemoxon-staging-deps:{}"
VENDOR = "arn:aws:lambda:us-west-2:111122223333:layer:vendor-extension:7"


def test_parse_layer_version_arn() -> None:
    ref = parse_layer_version_arn(DEPS.format(12))
    assert (ref.region, ref.account, ref.name, ref.version) == (
        "us-west-2",
        "123456789012",
        "bluemoxon-staging-deps",
        12,
    )


@pytest.mark.parametrize(
    "arn",
    [
        "",
        "bluemoxon-staging-deps:3",
        "arn:aws:lambda:us-west-2:123456789012:layer:bluemoxon-staging-deps",
        "arn:aws:lambda:us-west-2:123456789012:layer:bluemoxon-staging-deps:0",
        "arn:aws:lambda:us-west-2:123456789012:function:bluemoxon-staging-api:3",
        "arn:aws:s3:us-west-2:123456789012:layer:x:3",
    ],
)
def test_malformed_layer_arns_are_refused(arn: str) -> None:
    with pytest.raises(BadInputError, match="not a layer version ARN"):
        parse_layer_version_arn(arn)


def test_replace_deps_layer_keeps_other_layers_in_place() -> None:
    current = (VENDOR, DEPS.format(1))
    assert replace_deps_layer(
        current, layer_name="bluemoxon-staging-deps", new_arn=DEPS.format(2)
    ) == (
        VENDOR,
        DEPS.format(2),
    )


def test_replace_deps_layer_appends_when_absent_and_drops_duplicates() -> None:
    name = "bluemoxon-staging-deps"
    assert replace_deps_layer((VENDOR,), layer_name=name, new_arn=DEPS.format(3)) == (
        VENDOR,
        DEPS.format(3),
    )
    assert replace_deps_layer(
        (DEPS.format(1), VENDOR, DEPS.format(2)), layer_name=name, new_arn=DEPS.format(3)
    ) == (DEPS.format(3), VENDOR)


def test_conflicts_back_off_with_the_injected_delays() -> None:
    sleeps: list[float] = []
    attempts: list[int] = []

    def call() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise client_error("ResourceConflictException", "UpdateFunctionConfiguration", 409)
        return "done"

    retry = Retry(conflict_delays=(0.25, 0.5, 1.0), sleep=sleeps.append)
    assert with_conflict_retry(call, retry=retry, what="x") == "done"
    assert sleeps == [0.25, 0.5]


def test_conflicts_give_up_after_the_last_delay() -> None:
    sleeps: list[float] = []

    def call() -> None:
        raise client_error("ResourceConflictException", "UpdateFunctionCode", 409)

    with pytest.raises(LambdaOpError, match="update in progress"):
        with_conflict_retry(
            call, retry=Retry(conflict_delays=(1.0, 2.0), sleep=sleeps.append), what="x"
        )
    assert sleeps == [1.0, 2.0]


def test_other_errors_are_not_retried() -> None:
    sleeps: list[float] = []

    def call() -> None:
        raise client_error("InvalidParameterValueException", "UpdateFunctionCode")

    with pytest.raises(Exception, match="InvalidParameterValueException"):
        with_conflict_retry(call, retry=Retry(sleep=sleeps.append), what="x")
    assert sleeps == []


def test_retry_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="conflict_delays"):
        Retry(conflict_delays=(-1.0,))
    with pytest.raises(ValueError, match="waiter"):
        Retry(waiter_max_attempts=0)
