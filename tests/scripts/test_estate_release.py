"""Releases over an estate nobody here wrote: a deps layer published under another name, a
function with its own package, functions that are known but not managed."""

from __future__ import annotations

from dataclasses import replace

from lambda_double import LambdaDouble
from lambda_world import World

from environments import UnmanagedFunction
from scripts.release import history
from scripts.release.deploy import deploy
from scripts.release.layers import layer_name_of
from scripts.release.rollback import RollbackRequest, rollback
from scripts.release.status import status


def _foreign_layer(world: World) -> tuple[str, str]:
    """The workflow's copy of the deps layer, under its own name, on the first function
    in place of ours (as prod carries bluemoxon-production-deps)."""
    foreign = f"{world.env.name_prefix}-production-deps"
    world.env = replace(world.env, foreign_deps_layers=(foreign,))
    raw = world.raw_lambda()
    arn = raw.publish_layer_version(
        LayerName=foreign,
        Content={"S3Bucket": world.store.bucket, "S3Key": f"{world.store.prefix}layer.zip"},
    )["LayerVersionArn"]
    name = world.env.function_names[0]
    raw.update_function_configuration(FunctionName=name, Layers=[arn])
    raw.get_waiter("function_updated_v2").wait(FunctionName=name)
    return name, arn


def test_a_foreign_deps_layer_is_replaced_not_doubled(dworld: World) -> None:
    name, _ = _foreign_layer(dworld)

    result = deploy(dworld.context(), dworld.target("v1", "v1"))

    # One deps layer: ours. Appending would put every dependency on the path twice.
    assert dworld.served()[name][2] == (result["layer_version_arn"],)
    assert dworld.state()[name][1] == (result["layer_version_arn"],)


def test_rollback_returns_to_the_foreign_layer_for_every_caller(
    dworld: World, lambda_double: LambdaDouble
) -> None:
    name, foreign_arn = _foreign_layer(dworld)
    dworld.add_aliases()
    before = dworld.served()[name]
    deploy(dworld.context(), dworld.target("v1", "v1"))

    rollback(dworld.context(), RollbackRequest(previous=True))

    # The alias serves the version that held the foreign layer, with its code.
    assert dworld.served()[name] == before
    assert layer_name_of(dworld.served()[name][2][0]) == layer_name_of(foreign_arn)


def test_own_package_and_unmanaged_functions_are_left_alone(dworld: World) -> None:
    own = dworld.env.functions[-1]
    own_name = dworld.env.function_name(own.name)
    dworld.env = replace(
        dworld.env,
        adopt=True,  # a function with its own package exists: it is adopted, never created
        functions=(*dworld.env.functions[:-1], replace(own, package="own")),
        unmanaged_functions=(UnmanagedFunction(name="scraper-image", reason="container image"),),
    )
    untouched = dworld.state()[own_name]

    result = deploy(dworld.context(), dworld.target("v1", "v1"))

    assert dworld.state()[own_name] == untouched
    record = history.load_releases(dworld.store, dworld.env.name)[0]
    assert own_name not in record.functions
    assert set(record.functions) == set(dworld.env.function_names) - {own_name}
    assert result["state"] == "succeeded"
    lines: list[str] = []
    report = status(dworld.env, dworld.context().api, dworld.store, say=lines.append)
    assert report["not_released"] == {
        own_name: "own package",
        "scraper-image": "unmanaged: container image",
    }
    assert own_name not in report["functions"]
    assert "  scraper-image: not released here (unmanaged: container image)" in lines
