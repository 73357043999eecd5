"""prune-layers: the pure plan, then against moto (dry run, apply, pagination)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from lambda_world import World

from environments import ENVIRONMENTS
from scripts.cli import main
from scripts.errors import EXIT_BAD_INPUT, BadInputError
from scripts.release.deploy import deploy
from scripts.release.layers import LayerVersionInfo
from scripts.release.prune import plan_prune, prune_layers
from scripts.release.prune_versions import prune_versions

ARN = "arn:aws:lambda:us-west-2:123456789012:layer:p-local-deps:{}"


def _versions(*numbers: int, ours: bool = True) -> list[LayerVersionInfo]:
    return [
        LayerVersionInfo(
            version=n, arn=ARN.format(n), description=f"deps hash={n:016x}" if ours else "tf"
        )
        for n in numbers
    ]


def test_plan_keeps_newest_attached_and_history_and_says_why() -> None:
    plan = plan_prune(
        _versions(1, 2, 3, 4, 5, 6),
        keep=2,
        attached={ARN.format(2): ["fn-a", "fn-b"]},
        history={ARN.format(3): "release 20250101T000000.000000Z-abcdef12"},
    )
    assert [v.version for v in plan.delete] == [4, 1]
    assert plan.kept[6] == ("among the newest 2",)
    assert plan.kept[5] == ("among the newest 2",)
    assert plan.kept[2] == ("attached to fn-a, fn-b",)
    assert "release history" in plan.kept[3][0]


def test_plan_never_deletes_a_version_deploy_did_not_publish() -> None:
    plan = plan_prune(_versions(1, ours=False) + _versions(2, 3), keep=1, attached={}, history={})
    assert [v.version for v in plan.delete] == [2]
    assert plan.kept[1] == ("not published by deploy (Terraform's version)",)


def test_plan_needs_keep_of_at_least_one() -> None:
    with pytest.raises(BadInputError, match="--keep"):
        plan_prune(_versions(1), keep=0, attached={}, history={})


def _paginate(world: World, page_size: int) -> list[str | None]:
    """moto returns every version at once; serve them `page_size` at a time like Lambda."""
    markers: list[str | None] = []

    def remember(params: dict[str, Any], **_: Any) -> None:
        markers.append(params.get("Marker"))

    def slice_page(parsed: dict[str, Any], **_: Any) -> None:
        start = int(markers[-1] or 0)
        everything = parsed["LayerVersions"]
        parsed["LayerVersions"] = everything[start : start + page_size]
        if start + page_size < len(everything):
            parsed["NextMarker"] = str(start + page_size)

    world.lam.meta.events.register("before-parameter-build.lambda.ListLayerVersions", remember)
    world.lam.meta.events.register("after-call.lambda.ListLayerVersions", slice_page)
    return markers


def test_dry_run_then_apply_deletes_only_unused_versions(world: World) -> None:
    for tag in ("v1", "v2", "v3", "v4"):
        last = deploy(world.context(), world.target(tag, tag))
    # Function versions of the older releases hold layers 1-3: prune them first (the newest
    # release's versions, its target and the state before it, stay).
    prune_versions(
        env=world.env, api=world.context().api, store=world.store, keep=1, apply=True, say=print
    )
    markers = _paginate(world, page_size=2)
    # Versions: 1 Terraform's, 2-5 from the deploys; history names all of them, so read
    # only the newest record (v5 target, v4 before): 2 and 3 are deletable.
    dry = prune_layers(
        env=world.env,
        lambda_client=world.lam,
        store=world.store,
        keep=1,
        apply=False,
        history=1,
    )
    assert dry["would_delete"] == [3, 2]
    assert dry["deleted"] == []
    assert len(markers) == 3  # 5 versions, 2 per page
    assert world.log.names(frozenset({"DeleteLayerVersion"})) == []
    assert set(dry["kept"]) == {"1", "4", "5"}
    assert any("attached" in reason for reason in dry["kept"]["5"])

    applied = prune_layers(
        env=world.env,
        lambda_client=world.lam,
        store=world.store,
        keep=1,
        apply=True,
        history=1,
    )
    assert applied["deleted"] == [3, 2]
    left = world.raw_lambda().list_layer_versions(LayerName=world.env.layer_name)
    assert sorted(v["Version"] for v in left["LayerVersions"]) == [1, 4, 5]
    assert {layers for _, _, layers in world.served().values()} == {(last["layer_version_arn"],)}


def test_version_attached_in_another_environment_is_kept(world: World) -> None:
    for tag in ("v1", "v2", "v3", "v4"):
        deploy(world.context(), world.target(tag, tag))
    other = replace(ENVIRONMENTS["staging"], name_prefix=world.env.name_prefix, artifact_bucket="")
    world.create_functions(other)
    version2 = f"{world.first_layer_arn.rsplit(':', 1)[0]}:2"
    world.raw_lambda().update_function_configuration(
        FunctionName=other.function_names[0], Layers=[version2]
    )

    prune_versions(
        env=world.env, api=world.context().api, store=world.store, keep=1, apply=True, say=print
    )
    result = prune_layers(
        env=world.env,
        lambda_client=world.lam,
        store=world.store,
        keep=1,
        apply=True,
        history=0,
        environments=[other],
    )

    assert result["deleted"] == [3]
    assert "attached to" in result["kept"]["2"][0]
    assert other.function_names[0] in result["kept"]["2"][0]


def test_cli_keep_zero_is_bad_input(aws_env_vars: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prune-layers", "--env", "local", "--keep", "0"]) == EXIT_BAD_INPUT
    assert "--keep" in capsys.readouterr().err
