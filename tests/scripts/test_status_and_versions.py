"""`status`, `history` and `prune-versions` against the Lambda double."""

from __future__ import annotations

import pytest
from lambda_double import LambdaDouble
from lambda_world import World
from test_release_faults import FailingRecords

from scripts.errors import ToolError
from scripts.release.canary import Canary
from scripts.release.deploy import deploy
from scripts.release.prune_versions import kept_versions, prune_versions
from scripts.release.status import history_report, status


def test_status_names_the_release_package_layer_and_drift(dworld: World) -> None:
    result = deploy(dworld.context(), dworld.target("v1", "v1"))
    name = dworld.env.function_names[0]
    # Someone edits $LATEST by hand: the alias still serves the release; status says so.
    raw = dworld.raw_lambda()
    raw.update_function_configuration(FunctionName=name, Layers=[])
    raw.get_waiter("function_updated_v2").wait(FunctionName=name)
    lines: list[str] = []

    report = status(dworld.env, dworld.context().api, dworld.store, say=lines.append)

    assert report["current_release"] == result["release"]
    assert report["lock"] is None
    function = report["functions"][name]
    assert function["latest_drift"] == ["layers"]
    assert function["package"] is not None and function["package"].startswith("lambda/backend-")
    assert function["layer_hash"] == result["layer_hash"]
    assert function["matches_release"] is True
    assert any("$LATEST differs: layers" in line for line in lines)


def test_status_shows_canary_weights_and_history_lists_releases(dworld: World) -> None:
    dworld.add_aliases()
    first = deploy(dworld.context(), dworld.target("v1", "v1"))
    ctx = dworld.context()
    seen: list[dict[str, object]] = []

    def during_bake(names: object) -> dict[str, str]:
        seen.append(status(dworld.env, ctx.api, dworld.store, say=lambda _l: None))
        return {}

    ctx.alarms = during_bake
    deploy(ctx, dworld.target("v2", "v2"), canary=Canary(percent=20, bake_s=0.1, alarms=("a",)))

    weights = seen[1]["functions"]  # seen[0]: the alarm check before any change
    assert isinstance(weights, dict)
    assert all(list(f["weights"].values()) == [0.2] for f in weights.values())
    lines: list[str] = []
    report = history_report(dworld.store, dworld.env, limit=10, say=lines.append)
    assert [r["id"] for r in report["releases"]][-1] == first["release"]
    assert len(lines) == len(report["releases"]) == 2


def test_kept_versions_says_why() -> None:
    kept = kept_versions("f", ["1", "2", "3", "4", "5"], alias_targets=["4", "5"], releases=[])
    assert set(kept) == {"4", "5"}
    assert "an alias routes to it" in kept["4"]
    assert "the newest version" in kept["5"]


def test_prune_versions_keeps_alias_targets_and_recent_releases(
    dworld: World, lambda_double: LambdaDouble
) -> None:
    for tag in ("v1", "v2", "v3"):
        deploy(dworld.context(), dworld.target(tag, tag))
    name = dworld.env.function_names[0]
    served = dworld.served()[name][0]
    lines: list[str] = []

    dry = prune_versions(
        env=dworld.env,
        api=dworld.context().api,
        store=dworld.store,
        keep=1,
        apply=False,
        say=lines.append,
    )
    assert lambda_double.calls_to("DeleteFunction") == []
    would = dry["functions"][name]["would_delete"]
    assert would and served not in would

    applied = prune_versions(
        env=dworld.env,
        api=dworld.context().api,
        store=dworld.store,
        keep=1,
        apply=True,
        say=lines.append,
    )
    assert applied["functions"][name]["deleted"] == would
    left = [
        v["Version"]
        for v in dworld.raw_lambda().list_versions_by_function(FunctionName=name)["Versions"]
    ]
    assert served in left
    assert dworld.served()[name][0] == served


def test_status_after_a_run_that_never_finished_names_the_last_known_good(
    dworld: World,
) -> None:
    first = deploy(dworld.context(), dworld.target("v1", "v1"))
    ctx = dworld.context()
    # The run's end cannot be recorded (nor its failure): the record stays `started`, as
    # after a SIGKILL.
    ctx.store = FailingRecords(dworld.store, fail_from=3)  # type: ignore[assignment]
    with pytest.raises(ToolError):
        deploy(ctx, dworld.target("v2", "v2"))
    lines: list[str] = []

    report = status(dworld.env, dworld.context().api, dworld.store, say=lines.append)

    assert report["unfinished_release"] is not None
    assert report["last_known_good"] == first["release"]
    assert any("never finished" in line and first["release"] in line for line in lines)


def test_status_warns_about_records_of_the_previous_format(dworld: World) -> None:
    dworld.store.put_bytes(
        f"deployments/{dworld.env.name}/20250101T000000.000000Z-deploy-abcdef12.json",
        b'{"kind": "deploy"}',
        overwrite=True,
    )
    lines: list[str] = []

    status(dworld.env, dworld.context().api, dworld.store, say=lines.append)

    assert any("1 record(s) of the previous format" in line for line in lines)
