"""plan-check: the parser, the rules and the table, on recorded plans.

`plans/legacy-adoption.json` and `plans/legacy-forgetful.json` are `terraform show -json`
of real plans (terraform 1.11, hashicorp/aws 5.100, moto) for the `legacy` stack against the
legacy world of tests/e2e: the catalog's configuration, and one that left the API's memory
and VPC at their defaults. They were recorded without the plan's `configuration` section;
the two references the adoption's unknown values need (the mapping's and the schedule
target's new alias ARN) were added back by hand, in Terraform's own shape. Delete, replace
and forget are built by hand below; test_plan_risks.py has a recorded plan per risk.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from environments import ENVIRONMENTS
from scripts.errors import BadInputError
from scripts.infra.plan_check import (
    Change,
    check_plan,
    evaluate,
    intended_changes,
    parse_plan,
    resolve_allow,
)
from scripts.infra.plan_table import render_table, to_json

PLANS = Path(__file__).resolve().parent / "plans"
LEGACY = ENVIRONMENTS["legacy"]
API = "bluemoxon-legacy-api"


def recorded(name: str) -> dict[str, Any]:
    plan: dict[str, Any] = json.loads((PLANS / f"legacy-{name}.json").read_text())
    return plan


def one(action: list[str], type_: str = "aws_lambda_function", **change: Any) -> dict[str, Any]:
    """A minimal plan with one resource change."""
    body = {"actions": action, "before": {"function_name": API}, "after": {"function_name": API}}
    body.update(change)
    return {
        "format_version": "1.2",
        "resource_changes": [
            {"address": f"{type_}.x", "mode": "managed", "type": type_, "change": body}
        ],
    }


# ---- the parser ----------------------------------------------------------------------


def test_adoption_plan_is_imports_plus_publishing_and_triggers() -> None:
    changes = parse_plan(recorded("adoption"))
    kinds = {c.kind for c in changes}
    assert kinds == {"import", "import+update", "create"}
    functions = [c for c in changes if c.type == "aws_lambda_function"]
    assert sorted(c.function_name or "" for c in functions) == sorted(LEGACY.function_names)
    for change in functions:
        assert change.import_id == change.function_name
        assert change.attributes == (
            "publish",
            "qualified_arn",
            "qualified_invoke_arn",
            "version",
        )
        assert change.unknown == ("qualified_arn", "qualified_invoke_arn", "version")
    (mapping,) = [c for c in changes if c.type == "aws_lambda_event_source_mapping"]
    assert mapping.kind == "import+update" and mapping.attributes == ("function_name",)
    # Data sources are reads, not changes.
    assert not any(c.address.startswith("data.") for c in changes)


def test_labels_name_what_a_person_recognises() -> None:
    labels = {(c.type, c.label) for c in parse_plan(recorded("adoption"))}
    assert ("aws_lambda_alias", f"{API}:live") in labels
    assert ("aws_lambda_permission", f"{API}:live/AllowAPIGatewayInvoke") in labels
    assert (
        "aws_iam_role_policy_attachment",
        "bluemoxon-legacy-cleanup-exec/AWSXRayDaemonWriteAccess",
    ) in labels
    assert ("aws_lambda_layer_version", "bluemoxon-legacy-deps") in labels


def test_not_a_plan_is_refused() -> None:
    with pytest.raises(BadInputError, match="not the JSON of `terraform show -json"):
        parse_plan({"values": {}})


def test_replace_is_recognised_in_either_order() -> None:
    for order in (["delete", "create"], ["create", "delete"]):
        (change,) = parse_plan(one(order))
        assert change.action == "replace"


# ---- the rules -------------------------------------------------------------------------


def test_the_catalog_configuration_passes() -> None:
    report = check_plan(recorded("adoption"), intended=intended_changes(LEGACY))
    assert report.ok, report.refusals
    assert report.summary == (
        "17 to import, 8 to create, 6 to update in place, 0 to replace, 0 to delete, "
        "0 to forget; 0 refused"
    )


def test_moving_triggers_to_an_alias_created_in_the_same_plan_is_followed_by_reference() -> None:
    """The adoption moves the worker's mapping and the schedule's target to aliases only
    known after apply: the plan's configuration says which, and they are the same functions'."""
    plan = recorded("adoption")
    without = {k: v for k, v in plan.items() if k != "configuration"}
    report = check_plan(without, intended=intended_changes(LEGACY))
    assert sorted(r.attribute or "" for r in report.refusals) == ["arn", "function_name"]
    assert all("a target only known after apply" in r.reason for r in report.refusals)


def test_forgotten_memory_and_vpc_are_refused_by_name() -> None:
    report = check_plan(recorded("forgetful"), intended=intended_changes(LEGACY))
    assert not report.ok
    assert [(r.label, r.attribute) for r in report.refusals] == [
        (API, "memory_size"),
        (API, "vpc_config"),
    ]
    memory = report.refusals[0].line()
    assert memory.startswith("aws_lambda_function.function_api_function_")
    assert f"({API}): memory_size 512 -> 1024 is not intended" in memory
    assert f"--allow {API}.memory_size" in memory


def test_intended_changes_in_the_configuration_exempt_them() -> None:
    functions = tuple(
        replace(f, intended_changes=("memory_size", "vpc_config")) if f.name == "api" else f
        for f in LEGACY.functions
    )
    env = replace(LEGACY, functions=functions)
    assert intended_changes(env) == {API: frozenset({"memory_size", "vpc_config"})}
    assert check_plan(recorded("forgetful"), intended=intended_changes(env)).ok


def test_allow_exempts_one_attribute_of_one_function() -> None:
    plan = recorded("forgetful")
    changes = parse_plan(plan)
    allow = resolve_allow(LEGACY, ["api.memory_size"])
    assert allow == ((API, "memory_size"),)
    report = check_plan(plan, intended={}, allow=allow)
    assert [r.attribute for r in report.refusals] == ["vpc_config"]
    # The Terraform address works too; another function's name does not.
    (api,) = [c for c in changes if c.function_name == API]
    both = check_plan(plan, intended={}, allow=[(api.address, "vpc_config"), *allow])
    assert both.ok
    other = check_plan(plan, intended={}, allow=[("bluemoxon-legacy-cleanup", "memory_size")])
    assert len(other.refusals) == 2


@pytest.mark.parametrize("value", ["memory_size", "api.publish", "api.memorysize"])
def test_allow_must_name_a_protected_attribute(value: str) -> None:
    with pytest.raises(BadInputError, match=r"^--allow .*RESOURCE\.ATTRIBUTE"):
        resolve_allow(LEGACY, [value])


@pytest.mark.parametrize(
    "type_",
    ["aws_lambda_function", "aws_iam_role", "aws_cloudwatch_log_group", "aws_lambda_alias"],
)
@pytest.mark.parametrize(
    ("actions", "word"), [(["delete"], "deleted"), (["delete", "create"], "replaced")]
)
def test_protected_resources_are_never_deleted_or_replaced(
    type_: str, actions: list[str], word: str
) -> None:
    report = evaluate(parse_plan(one(actions, type_)), intended={}, allow=[(API, "role")])
    (refusal,) = report.refusals
    assert refusal.reason == f"would be {word}"
    assert refusal.attribute is None


def test_a_harmless_delete_passes_and_a_forget_is_counted() -> None:
    deleted = evaluate(parse_plan(one(["delete"], "aws_iam_role_policy")), intended={})
    assert deleted.ok and deleted.counts["delete"] == 1
    assert render_table(deleted, env_name="x").splitlines()[-1] == (
        "ok: 1 to delete (listed above), none refused"
    )
    forgotten = evaluate(parse_plan(one(["forget"])), intended={})
    assert forgotten.ok and forgotten.counts["forget"] == 1
    assert forgotten.summary.endswith("1 to forget; 0 refused")


def test_create_then_forget_counts_as_both() -> None:
    (change,) = parse_plan(one(["create", "forget"], "aws_iam_role_policy"))
    assert change.action == "create+forget" and change.actions == ("create", "forget")
    report = evaluate([change], intended={})
    assert (report.count("create"), report.count("forget"), report.count("delete")) == (1, 1, 0)


def test_an_unknown_role_counts_as_a_change() -> None:
    plan = one(
        ["update"],
        before={"function_name": API, "role": "arn:aws:iam::1:role/old"},
        after={"function_name": API},
        after_unknown={"role": True},
    )
    (refusal,) = evaluate(parse_plan(plan), intended={}).refusals
    assert refusal.attribute == "role"
    assert "-> (known after apply)" in refusal.reason


def test_unprotected_attributes_pass() -> None:
    plan = one(
        ["update"],
        before={"function_name": API, "description": "old", "publish": False},
        after={"function_name": API, "description": "new", "publish": True},
    )
    (change,) = parse_plan(plan)
    assert change.attributes == ("description", "publish")
    assert evaluate([change], intended={}).ok


# ---- the table -------------------------------------------------------------------------


def test_table_lists_imports_creates_and_changes_then_the_verdict() -> None:
    report = check_plan(recorded("adoption"), intended={})
    table = render_table(report, env_name="legacy")
    lines = table.splitlines()
    assert lines[0] == (
        "plan-check legacy: 17 to import, 8 to create, 6 to update in place, 0 to replace, "
        "0 to delete, 0 to forget; 0 refused"
    )
    assert lines[-1].startswith("ok: nothing deleted, replaced or forgotten; nothing loses")
    api = next(line for line in lines if "aws_lambda_function" in line and API in line)
    assert api.split()[0] == "import+update"
    assert api.rstrip().endswith("publish, qualified_arn*, qualified_invoke_arn*, version*")
    assert sum(1 for line in lines if line.lstrip().startswith("import ")) == 11
    assert json.loads(json.dumps(to_json(report)))["summary"] == {
        "import": 17,
        "create": 8,
        "update": 6,
        "replace": 0,
        "delete": 0,
        "forget": 0,
        "refused": 0,
    }


def test_table_ends_with_the_refusals() -> None:
    report = check_plan(recorded("forgetful"), intended={})
    lines = render_table(report, env_name="legacy").splitlines()
    assert lines[-3] == "refused (2):"
    assert "memory_size" in lines[-2] and "vpc_config" in lines[-1]


def test_no_op_without_import_is_not_listed() -> None:
    change = Change(address="aws_iam_role.r", type="aws_iam_role", action="no-op")
    assert "aws_iam_role" not in render_table(evaluate([change], intended={}), env_name="x")
