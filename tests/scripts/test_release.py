"""Releases through the Lambda double: prepare versions, switch aliases, record, reuse.

The double behaves like real Lambda (a new RevisionId on every write, updates that stay
in progress for a moment, downloadable code), so these are the paths a real account takes.
"""

from __future__ import annotations

import json
import threading
from dataclasses import replace

import pytest
from lambda_double import LambdaDouble
from lambda_world import World, make_world

import artifacts
from scripts.errors import BadInputError, ToolError
from scripts.release import history
from scripts.release.deploy import deploy
from scripts.release.layers import deps_layer_of

WRITES = frozenset(
    {
        "UpdateFunctionCode",
        "UpdateFunctionConfiguration",
        "PublishVersion",
        "PublishLayerVersion",
        "CreateAlias",
        "UpdateAlias",
        "DeleteAlias",
    }
)


def writes(double: LambdaDouble) -> list[tuple[str, str]]:
    return [(c.operation, c.function or "") for c in double.calls if c.operation in WRITES]


def test_first_release_prepares_versions_then_moves_every_alias(
    dworld: World, lambda_double: LambdaDouble
) -> None:
    target = dworld.target("v1", "v1")
    before = dworld.state()

    result = deploy(dworld.context(), target)

    served = dworld.served()
    assert result["state"] == "succeeded"
    assert {code for _, code, _ in served.values()} == {target.package.code_sha256}  # type: ignore[union-attr]
    assert {layers for _, _, layers in served.values()} == {(result["layer_version_arn"],)}
    # $LATEST holds the release too; each alias serves a version, not $LATEST.
    assert all(version.isdigit() for version, _, _ in served.values())
    assert {state for state in dworld.state().values()} == {
        (target.package.code_sha256, (result["layer_version_arn"],))  # type: ignore[union-attr]
    }
    # Every alias moved only after every function was prepared.
    operations = [op for op, _ in writes(lambda_double)]
    first_switch = operations.index("UpdateAlias")
    assert "UpdateFunctionCode" not in operations[first_switch:]
    assert operations.count("UpdateAlias") == len(before)
    record = history.load_releases(dworld.store, dworld.env.name)[0]
    assert record.state == history.SUCCEEDED
    for name, entry in record.functions.items():
        assert (entry.before.code_sha256, entry.before.layers) == before[name]
        assert entry.before.version is not None  # the baseline published before any change
        assert entry.target.version == served[name][0]


def test_a_repeated_release_makes_no_write_and_no_record(
    dworld: World, lambda_double: LambdaDouble
) -> None:
    target = dworld.target("v1", "v1")
    deploy(dworld.context(), target)
    lambda_double.clear_calls()
    records = len(history.load_releases(dworld.store, dworld.env.name))

    again = deploy(dworld.context(), target)

    assert again["state"] == "unchanged"
    assert writes(lambda_double) == []
    assert len(history.load_releases(dworld.store, dworld.env.name)) == records


def test_code_only_change_reuses_the_layer_version(
    dworld: World, lambda_double: LambdaDouble
) -> None:
    first = deploy(dworld.context(), dworld.target("v1", "v1"))
    lambda_double.clear_calls()

    second = deploy(dworld.context(), dworld.target("v1", "v2"))

    assert second["published"] is False
    assert second["layer_version_arn"] == first["layer_version_arn"]
    operations = {op for op, _ in writes(lambda_double)}
    assert "PublishLayerVersion" not in operations
    assert "UpdateFunctionConfiguration" not in operations


def test_other_layers_stay_in_place(dworld: World) -> None:
    raw = dworld.raw_lambda()
    vendor = raw.publish_layer_version(
        LayerName=f"{dworld.env.name_prefix}-vendor",
        Content={"S3Bucket": dworld.store.bucket, "S3Key": "lambda/layer.zip"},
    )["LayerVersionArn"]
    name = dworld.env.function_names[0]
    raw.update_function_configuration(FunctionName=name, Layers=[vendor, dworld.first_layer_arn])
    raw.get_waiter("function_updated_v2").wait(FunctionName=name)

    result = deploy(dworld.context(), dworld.target("v1", "v1"))

    assert dworld.served()[name][2] == (vendor, result["layer_version_arn"])


def test_an_existing_alias_is_moved_and_recorded(dworld: World) -> None:
    dworld.add_aliases()
    before = dworld.served()

    deploy(dworld.context(), dworld.target("v1", "v1"))

    record = history.load_releases(dworld.store, dworld.env.name)[0]
    for name, entry in record.functions.items():
        assert entry.alias_version == before[name][0]
        assert entry.before.version == before[name][0]
        assert dworld.served()[name][0] != before[name][0]


@pytest.mark.parametrize("missing", ["layer", "package"])
def test_missing_artifacts_stop_before_any_write(
    dworld: World, lambda_double: LambdaDouble, missing: str
) -> None:
    target = dworld.target("v1", "v1")
    key = target.layer.key if missing == "layer" else target.package.key  # type: ignore[union-attr]
    dworld.s3.delete_object(Bucket=dworld.store.bucket, Key=key)
    lambda_double.clear_calls()

    with pytest.raises((BadInputError, ToolError), match=r"missing|run build"):
        from scripts.release.deploy import target_from_store
        from scripts.release.sources import Sources

        hashes = {
            "layer": target.layer.layer_hash,  # type: ignore[union-attr]
            "package": target.package.key.rsplit("backend-", 1)[1][:16],  # type: ignore[union-attr]
        }
        deploy(
            dworld.context(),
            target_from_store(
                Sources(dworld.store),
                dworld.env,
                layer_hash=hashes["layer"],
                package_hash=hashes["package"],
            ),
        )
    assert writes(lambda_double) == []


def test_a_missing_function_stops_before_any_write(
    moto_server: str, lambda_double: LambdaDouble
) -> None:
    w = make_world(lambda_double.endpoint)
    w.upload_layer("v0")
    w.upload_package("v0")
    w.create_functions()
    w.raw_lambda().delete_function(FunctionName=w.env.function_names[2])
    lambda_double.clear_calls()

    with pytest.raises(ToolError, match="does not exist: run `cdktf deploy"):
        deploy(w.context(), w.target("v1", "v1"))

    assert [op for op, _ in writes(lambda_double) if op != "PublishLayerVersion"] == []


def test_a_staging_release_never_touches_another_environments_functions(
    lambda_double: LambdaDouble,
) -> None:
    staging = make_world(lambda_double.endpoint)
    prod = make_world(lambda_double.endpoint, replace(staging.env, name="prod"))
    for w in (staging, prod):
        w.upload_layer("v0")
        w.upload_package("v0")
        w.create_functions()
    lambda_double.clear_calls()

    deploy(staging.context(), staging.target("v1", "v1"))

    touched = {function for _, function in writes(lambda_double)}
    assert touched and touched <= set(staging.env.function_names) | {staging.env.layer_name}


def test_the_record_is_written_before_the_first_write_with_every_before_state(
    dworld: World, lambda_double: LambdaDouble
) -> None:
    seen: list[dict[str, object]] = []
    name = dworld.env.function_names[0]
    once = threading.Lock()

    def snapshot_history(operation: str) -> None:
        with once:  # four functions update in parallel: read the history at the first
            if operation == "UpdateFunctionCode" and not seen:
                prefix = artifacts.releases_prefix(dworld.env.name)
                (key,) = [o.name for o in dworld.store.list(prefix)]
                seen.append(json.loads(dworld.store.read_bytes(key)))

    dworld.lam.meta.events.register(
        "before-call.lambda.UpdateFunctionCode",
        lambda **_: snapshot_history("UpdateFunctionCode"),
    )
    revision = dworld.raw_lambda().get_function_configuration(FunctionName=name)["RevisionId"]

    deploy(dworld.context(), dworld.target("v1", "v1"))

    (started,) = seen
    assert started["state"] == "started"
    functions = started["functions"]
    assert isinstance(functions, dict)
    assert set(functions) == set(dworld.env.function_names)
    assert functions[name]["revision_id"] == revision
    assert deps_layer_of(tuple(functions[name]["before"]["layers"]), dworld.env.layer_name)
