"""deploy against a real moto server: publish/reuse, parallel updates, no-op repeats, records."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
from lambda_world import UPDATES, World, fast_retry, make_world, zip_bytes

from environments import ENVIRONMENTS
from scripts.errors import ToolError
from scripts.release.deploy import deploy, target_from_store
from scripts.release.history import load_records


def test_first_deploy_publishes_and_moves_all_four(world: World) -> None:
    target = world.target("v1", "v1")
    before = world.state()

    result = deploy(env=world.env, lambda_client=world.lam, store=world.store, target=target)

    assert result["published"] is True
    arn = result["layer_version_arn"]
    assert arn.endswith(f":layer:{world.env.layer_name}:2")
    assert set(result["functions"]) == set(world.env.function_names)
    assert all(f["updated"] for f in result["functions"].values())
    after = world.state()
    for name in world.env.function_names:
        assert after[name] == (target.package.code_sha256, (arn,))
        assert before[name][0] != target.package.code_sha256
    # The layer came from the content-addressed key, recorded in its description.
    published = [p for op, p in world.log.calls if op == "PublishLayerVersion"]
    assert published[0]["Content"]["S3Key"] == f"lambda/layer-{target.layer_hash}.zip"
    assert f"hash={target.layer_hash}" in published[0]["Description"]
    codes = [p for op, p in world.log.calls if op == "UpdateFunctionCode"]
    assert {p["S3Key"] for p in codes} == {target.package.key}


def test_repeated_deploy_makes_no_update_call_and_publishes_nothing(world: World) -> None:
    target = world.target("v1", "v1")
    first = deploy(env=world.env, lambda_client=world.lam, store=world.store, target=target)
    world.log.clear()

    started = time.perf_counter()
    again = deploy(env=world.env, lambda_client=world.lam, store=world.store, target=target)
    elapsed = time.perf_counter() - started

    assert again["published"] is False
    assert again["layer_version_arn"] == first["layer_version_arn"]
    assert not any(f["updated"] for f in again["functions"].values())
    assert world.log.names() == []
    lambda_calls = [op for op, _ in world.log.calls]
    print(f"\nno-change deploy: {elapsed:.2f}s, {len(lambda_calls)} Lambda calls: {lambda_calls}")


def test_code_only_change_reuses_layer_and_updates_code(world: World) -> None:
    first = deploy(
        env=world.env, lambda_client=world.lam, store=world.store, target=world.target("v1", "v1")
    )
    target = world.target("v1", "v2")
    world.log.clear()

    started = time.perf_counter()
    result = deploy(env=world.env, lambda_client=world.lam, store=world.store, target=target)
    elapsed = time.perf_counter() - started

    assert result["published"] is False
    assert result["layer_version_arn"] == first["layer_version_arn"]
    for outcome in result["functions"].values():
        assert outcome["code_updated"] is True
        assert outcome["layers_updated"] is False
    assert [op for op, _ in world.log.names(UPDATES)] == ["UpdateFunctionCode"] * 4
    print(f"\ncode-only deploy of four functions: {elapsed:.2f}s")


def test_other_layers_are_kept_in_place(world: World) -> None:
    name = world.env.function_names[0]
    raw = world.raw_lambda()
    other = raw.publish_layer_version(
        LayerName=f"{world.env.name_prefix}-vendor-ext",
        Content={"S3Bucket": world.store.bucket, "S3Key": "lambda/layer.zip"},
    )["LayerVersionArn"]
    raw.update_function_configuration(FunctionName=name, Layers=[other, world.first_layer_arn])

    result = deploy(
        env=world.env, lambda_client=world.lam, store=world.store, target=world.target("v1", "v1")
    )

    assert world.state()[name][1] == (other, result["layer_version_arn"])


def test_newest_version_with_other_hash_is_not_reused(world: World) -> None:
    first = deploy(
        env=world.env, lambda_client=world.lam, store=world.store, target=world.target("v1", "v1")
    )
    second = deploy(
        env=world.env, lambda_client=world.lam, store=world.store, target=world.target("v2", "v1")
    )
    assert second["published"] is True
    assert second["layer_version_arn"] != first["layer_version_arn"]
    for outcome in second["functions"].values():
        assert (outcome["code_updated"], outcome["layers_updated"]) == (False, True)


def test_record_keeps_history_with_before_state(world: World) -> None:
    before = world.state()
    deploy(
        env=world.env, lambda_client=world.lam, store=world.store, target=world.target("v1", "v1")
    )
    target = world.target("v1", "v2")
    result = deploy(env=world.env, lambda_client=world.lam, store=world.store, target=target)

    records = load_records(world.store, world.env)
    assert len(records) == 2
    name, newest = records[0]
    assert name == result["record"]
    assert name.startswith(f"deployments/{world.env.name}/")
    assert newest.status == "succeeded"
    assert newest.version == "v2"
    assert newest.layer_version_arn == result["layer_version_arn"]
    assert newest.package_key == target.package.key
    _, oldest = records[1]
    api = world.env.function_names[0]
    assert oldest.functions[api].before_code_sha256 == before[api][0]
    assert oldest.functions[api].before_layers == before[api][1]
    # Terraform's backend.zip content is also the content-addressed v0 package.
    assert oldest.functions[api].before_package_key is not None


def test_missing_layer_object_stops_before_any_change(world: World) -> None:
    package_hash = world.upload_package("v1")
    with pytest.raises(ToolError, match="run build-layer first"):
        target_from_store(
            world.store, world.env, layer_hash="0123456789abcdef", package_hash=package_hash
        )


def test_missing_package_stops_before_any_change(world: World) -> None:
    layer_hash = world.upload_layer("v1")
    with pytest.raises(ToolError, match="run build-backend first"):
        target_from_store(
            world.store, world.env, layer_hash=layer_hash, package_hash="0123456789abcdef"
        )


def test_missing_function_stops_before_any_change(world: World) -> None:
    target = world.target("v1", "v1")
    world.raw_lambda().delete_function(FunctionName=world.env.function_names[2])
    world.log.clear()

    with pytest.raises(ToolError) as caught:
        deploy(
            env=world.env,
            lambda_client=world.lam,
            store=world.store,
            target=target,
            retry=fast_retry(),
        )

    assert str(caught.value) == (
        f"function {world.env.function_names[2]} does not exist: "
        f"run `cdktf deploy {world.env.name}` first"
    )
    assert world.log.names() == []


def test_staging_deploy_never_calls_a_prod_function(moto_server: str) -> None:
    world = make_world(moto_server, ENVIRONMENTS["staging"])
    prod = replace(ENVIRONMENTS["prod"], name_prefix=world.env.name_prefix, artifact_bucket="")
    world.upload_layer("v0")
    world.upload_package("v0")
    world.create_functions()
    world.create_functions(prod)
    prod_before = {
        n: world.raw_lambda().get_function_configuration(FunctionName=n)["CodeSha256"]
        for n in prod.function_names
    }

    deploy(
        env=world.env, lambda_client=world.lam, store=world.store, target=world.target("v1", "v1")
    )

    touched = {str(params.get("FunctionName", "")) for _, params in world.log.calls} | {
        str(params.get("LayerName", "")) for _, params in world.log.calls
    }
    assert touched - {""} <= {*world.env.function_names, world.env.layer_name}
    assert not any("-prod-" in name for name in touched)
    for name, sha in prod_before.items():
        assert world.raw_lambda().get_function_configuration(FunctionName=name)["CodeSha256"] == sha


def test_code_from_outside_the_store_is_refused_before_publishing(world: World) -> None:
    """Its code could not be restored (no package holds it), so nothing may start."""
    target = world.target("v1", "v1")
    stray = world.env.function_names[3]
    world.raw_lambda().update_function_code(
        FunctionName=stray, ZipFile=zip_bytes({"app/main.py": "# hand-deployed\n"})
    )
    world.log.clear()

    with pytest.raises(ToolError, match=f"cannot guarantee a restore of {stray}"):
        deploy(
            env=world.env,
            lambda_client=world.lam,
            store=world.store,
            target=target,
            retry=fast_retry(),
        )

    assert world.log.names() == []
