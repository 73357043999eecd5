"""plan-check's message and traffic rules, one recorded plan per case.

`plans/risk-*.json` are `terraform show -json` of real plans (terraform 1.11, hashicorp/aws
5.100, moto): `plans/record_risks.py` applies `plans/risk_world/main.tf` (an SQS worker
`risk-worker` with its queue, dead-letter queue, async-invoke config, schedule, permissions,
an HTTP API and a REST API) and plans one change of a variable per case. Cases a real plan
cannot easily show (a forget, a filter, a value only known after apply) are built by hand
below from the same shapes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fake_terraform import fake_terraform

from environments import ENVIRONMENTS, RISKY_CHANGES, FunctionConfig
from scripts.cli import main
from scripts.errors import EXIT_FAILURE, EXIT_OK
from scripts.infra.plan_check import check_plan, parse_plan, resolve_allow
from scripts.infra.plan_table import render_table, to_json

PLANS = Path(__file__).resolve().parent / "plans"
WORKER = "risk-worker"
MAPPING = "aws_lambda_event_source_mapping.jobs[0]"


def recorded(case: str) -> dict[str, Any]:
    plan: dict[str, Any] = json.loads((PLANS / f"risk-{case}.json").read_text())
    return plan


# case -> (address refused, the word that intends it, what the refusal says it would do)
REFUSED = {
    "partial-failures-dropped": (
        MAPPING,
        "function_response_types",
        "ReportBatchItemFailures removed: a batch from risk-jobs that reports failed items "
        "would be taken as done, so failed messages would be deleted",
    ),
    "queue-replaced": (
        "aws_sqs_queue.jobs",
        "sqs_queue",
        "queue risk-jobs would be replaced: the messages in it, in flight or waiting, would "
        "be lost",
    ),
    "mapping-deleted": (
        MAPPING,
        "event_source_mapping",
        "queue risk-jobs would no longer be read by risk-worker: its messages would wait, "
        "then expire unprocessed",
    ),
    "mapping-disabled": (MAPPING, "enabled", "disabled: queue risk-jobs would no longer be read"),
    "mapping-to-other": (
        MAPPING,
        "function_name",
        "queue risk-jobs's messages would go to risk-other instead of risk-worker",
    ),
    "redrive-removed": (
        "aws_sqs_queue_redrive_policy.jobs[0]",
        "redrive_policy",
        "queue risk-jobs would lose its dead-letter queue risk-jobs-dlq: messages that keep "
        "failing would be retried until they expire, then lost",
    ),
    "async-retries-dropped": (
        "aws_lambda_function_event_invoke_config.worker",
        "maximum_retry_attempts",
        "failed asynchronous events for risk-worker would be retried 0 times instead of 2",
    ),
    "async-destination-dropped": (
        "aws_lambda_function_event_invoke_config.worker",
        "destination_config",
        "asynchronous events for risk-worker that fail every retry would be dropped instead "
        "of sent to risk-jobs-dlq",
    ),
    "permission-replaced": (
        "aws_lambda_permission.events[0]",
        "permission",
        "callers (events.amazonaws.com from rule/risk-worker-tick) would get "
        "403/AccessDenied invoking risk-worker between the delete and the create",
    ),
    "permission-deleted": (
        "aws_lambda_permission.events[0]",
        "permission",
        "callers (events.amazonaws.com from rule/risk-worker-tick) would get "
        "403/AccessDenied invoking risk-worker",
    ),
    "http-api-to-other": (
        "aws_apigatewayv2_integration.worker",
        "integration_uri",
        "the API would call risk-other instead of risk-worker",
    ),
    "rest-api-to-other": (
        "aws_api_gateway_integration.worker",
        "uri",
        "the API would call risk-other instead of risk-worker",
    ),
    "schedule-target-deleted": (
        "aws_cloudwatch_event_target.tick[0]",
        "event_target",
        "rule risk-worker-tick would stop invoking risk-worker",
    ),
    "alias-version-changed": (
        "aws_lambda_alias.live",
        "function_version",
        "callers of risk-worker:live would move from version 1 to version $LATEST outside a "
        "release",
    ),
}
# Safe by rule: what migrate does (to the alias), and a replace that never leaves a gap.
PASSED = ("mapping-to-alias", "http-api-to-alias", "permission-replaced-before-destroy")


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_each_risk_is_refused_naming_resource_word_and_effect(case: str) -> None:
    address, word, effect = REFUSED[case]
    report = check_plan(recorded(case), intended={})
    assert [(r.address, r.attribute) for r in report.refusals] == [(address, word)]
    (refusal,) = report.refusals
    assert refusal.reason.startswith(f"{word}: {effect}")
    assert refusal.reason.endswith(
        f"; if intended, list {word!r} in {WORKER}'s intended_changes, or pass "
        f"--allow {address}.{word}"
    )
    assert not report.ok and report.counts["refused"] == 1


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_each_risk_passes_when_the_configuration_or_allow_intends_it(case: str) -> None:
    address, word, effect = REFUSED[case]
    plan = recorded(case)
    by_config = check_plan(plan, intended={WORKER: {word}})
    assert by_config.ok
    # Intended risks stay in the report, without the advice.
    assert [(r.address, r.reason) for r in by_config.intended] == [
        (address, by_config.intended[0].reason)
    ]
    assert by_config.intended[0].reason.startswith(f"{word}: {effect}")
    assert "if intended" not in by_config.intended[0].reason
    assert check_plan(plan, intended={}, allow=[(address, word)]).ok
    assert check_plan(plan, intended={}, allow=[(WORKER, word)]).ok
    # Another function's configuration, or another word, does not.
    assert not check_plan(plan, intended={"risk-other": {word}}).ok
    other_word = "enabled" if word != "enabled" else "permission"
    assert not check_plan(plan, intended={WORKER: {other_word}}).ok


@pytest.mark.parametrize("case", PASSED)
def test_moves_to_the_alias_and_gapless_replaces_pass(case: str) -> None:
    report = check_plan(recorded(case), intended={})
    assert report.ok, [r.line() for r in report.refusals]
    assert not report.intended


def test_the_recorded_plans_are_terraforms_own() -> None:
    for path in sorted(PLANS.glob("risk-*.json")):
        plan = json.loads(path.read_text())
        assert plan["format_version"] == "1.2" and plan["terraform_version"] == "1.11.4"
        assert plan["configuration"]["root_module"]["resources"], path.name
    replaced = {c.address: c for c in parse_plan(recorded("permission-replaced"))}
    events = replaced["aws_lambda_permission.events[0]"]
    assert events.actions == ("delete", "create")
    assert events.replace_paths == (("statement_id",),)
    assert events.action_reason == "replace_because_cannot_update"
    before_destroy = {
        c.address: c for c in parse_plan(recorded("permission-replaced-before-destroy"))
    }
    assert before_destroy["aws_lambda_permission.apigw"].actions == ("create", "delete")


def test_a_replaced_queue_is_one_refusal_not_three() -> None:
    """Its mapping and redrive policy are replaced with it: the queue's refusal says it all."""
    changes = {c.address: c for c in parse_plan(recorded("queue-replaced"))}
    assert changes[MAPPING].action == "replace"
    assert changes["aws_sqs_queue_redrive_policy.jobs[0]"].action == "replace"
    report = check_plan(recorded("queue-replaced"), intended={})
    assert [r.attribute for r in report.refusals] == ["sqs_queue"]


def test_the_summary_counts_what_the_plan_does_and_never_hides_a_delete() -> None:
    report = check_plan(
        recorded("permission-deleted"),
        intended={},
        allow=[("aws_lambda_permission.events[0]", "permission")],
    )
    assert report.summary == (
        "0 to import, 0 to create, 0 to update in place, 0 to replace, 1 to delete, "
        "0 to forget; 0 refused"
    )
    lines = render_table(report, env_name="risk").splitlines()
    assert lines[-1] == "ok: 1 to delete (listed above), none refused, 1 intended"
    assert lines[-3] == "intended (1), by the configuration or --allow:"
    assert "nothing deleted" not in "\n".join(lines)
    result = json.loads(json.dumps(to_json(report)))
    assert result["summary"]["delete"] == 1 and result["summary"]["refused"] == 0
    assert result["intended"][0]["attribute"] == "permission"
    refused = to_json(check_plan(recorded("permission-deleted"), intended={}))
    assert refused["summary"]["refused"] == 1 and refused["ok"] is False


def test_a_forget_passes_and_is_counted_and_said() -> None:
    """A `removed` block with destroy = false: the target keeps running, unmanaged."""
    plan = recorded("target-forgotten")
    (forgotten,) = [c for c in parse_plan(plan) if c.action != "no-op"]
    assert forgotten.actions == ("forget",)
    assert forgotten.action_reason == "delete_because_no_resource_config"
    report = check_plan(plan, intended={})
    assert report.ok and report.counts["forget"] == 1 and report.counts["delete"] == 0
    lines = render_table(report, env_name="risk").splitlines()
    assert lines[1].split() == ["forget", "aws_cloudwatch_event_target", "risk-worker-tick/worker"]
    assert lines[-1] == "ok: 1 to forget (listed above), none refused"


def test_an_import_is_counted_with_what_it_changes() -> None:
    plan = recorded("queue-imported")
    report = check_plan(plan, intended={})
    assert report.ok
    assert report.summary.startswith("1 to import, 0 to create, 1 to update in place")
    (imported,) = [c for c in report.changes if c.import_id]
    assert imported.kind == "import+update" and imported.label == "risk-extra"


# ---- built by hand, from the recorded shapes -----------------------------------------------


def _mapping_change(before: dict[str, Any], after: dict[str, Any], **extra: Any) -> dict[str, Any]:
    base = next(
        r for r in recorded("mapping-disabled")["resource_changes"] if r["address"] == MAPPING
    )
    change = {**base["change"], "before": before, "after": after, **extra}
    return {"format_version": "1.2", "resource_changes": [{**base, "change": change}]}


def _recorded_mapping() -> dict[str, Any]:
    base = next(
        r for r in recorded("mapping-disabled")["resource_changes"] if r["address"] == MAPPING
    )
    before: dict[str, Any] = base["change"]["before"]
    return before


def test_a_new_filter_is_refused_and_an_unchanged_one_is_not() -> None:
    before = _recorded_mapping()
    pattern = {"filter": [{"pattern": json.dumps({"body": {"kind": ["job"]}})}]}
    after = {**before, "filter_criteria": [pattern]}
    (refusal,) = check_plan(_mapping_change(before, after), intended={}).refusals
    assert refusal.attribute == "filter_criteria"
    assert "messages from risk-jobs it does not match would be deleted unprocessed" in (
        refusal.reason
    )
    same = {**before, "filter_criteria": [pattern]}
    assert check_plan(_mapping_change(same, same), intended={}).ok


def test_a_target_only_known_after_apply_is_followed_through_the_configuration() -> None:
    before = _recorded_mapping()
    after = {k: v for k, v in before.items() if k != "function_name"}
    unknown = {"function_name": True}
    plan = _mapping_change(before, after, after_unknown=unknown)
    (refusal,) = check_plan(plan, intended={}).refusals
    assert "would go to a target only known after apply instead of risk-worker" in refusal.reason

    def referring_to(alias_function: str) -> dict[str, Any]:
        alias = {
            "address": "aws_lambda_alias.next",
            "mode": "managed",
            "type": "aws_lambda_alias",
            "name": "next",
            "change": {
                "actions": ["create"],
                "before": None,
                "after": {"function_name": alias_function, "name": "next"},
                "after_unknown": {"arn": True, "invoke_arn": True},
            },
        }
        config = {
            "address": "aws_lambda_event_source_mapping.jobs",
            "expressions": {
                "function_name": {
                    "references": ["aws_lambda_alias.next.arn", "aws_lambda_alias.next"]
                }
            },
        }
        return {
            **plan,
            "resource_changes": [*plan["resource_changes"], alias],
            "configuration": {"root_module": {"resources": [config]}},
        }

    assert check_plan(referring_to(WORKER), intended={}).ok
    (other,) = check_plan(referring_to("risk-other"), intended={}).refusals
    assert "would go to risk-other instead of risk-worker" in other.reason


def _one(type_: str, actions: list[str], before: Any, after: Any) -> dict[str, Any]:
    return {
        "format_version": "1.2",
        "resource_changes": [
            {
                "address": f"{type_}.x",
                "mode": "managed",
                "type": type_,
                "name": "x",
                "change": {"actions": actions, "before": before, "after": after},
            }
        ],
    }


def test_a_reformatted_redrive_policy_is_no_change_and_an_emptied_one_is_refused() -> None:
    policy = {"deadLetterTargetArn": "arn:aws:sqs:us-west-2:123456789012:dlq", "maxReceiveCount": 3}
    before = {"name": "jobs", "redrive_policy": json.dumps(policy, indent=1)}
    same = {"name": "jobs", "redrive_policy": json.dumps(policy, separators=(",", ":"))}
    assert check_plan(_one("aws_sqs_queue", ["update"], before, same), intended={}).ok
    emptied = {"name": "jobs", "redrive_policy": ""}
    (refusal,) = check_plan(
        _one("aws_sqs_queue", ["update"], before, emptied), intended={}
    ).refusals
    assert (
        refusal.attribute == "redrive_policy" and "lose its dead-letter queue dlq" in refusal.reason
    )


def test_a_disabled_schedule_rule_is_refused() -> None:
    before = {"name": "tick", "state": "ENABLED", "is_enabled": True}
    after = {"name": "tick", "state": "DISABLED", "is_enabled": False}
    (refusal,) = check_plan(
        _one("aws_cloudwatch_event_rule", ["update"], before, after), intended={}
    ).refusals
    assert (refusal.attribute, refusal.reason.split(";")[0]) == (
        "state",
        "state: rule tick would be disabled: it would stop invoking its targets",
    )


def test_create_before_destroy_is_safe_only_when_it_grants_or_targets_the_same() -> None:
    grant = {
        "function_name": WORKER,
        "principal": "apigateway.amazonaws.com",
        "statement_id": "A",
        "qualifier": "",
    }
    moved = {**grant, "statement_id": "B", "qualifier": "live"}
    (refusal,) = check_plan(
        _one("aws_lambda_permission", ["create", "delete"], grant, moved), intended={}
    ).refusals
    assert "would get 403/AccessDenied invoking risk-worker" in refusal.reason
    # One target id under create_before_destroy: the delete removes what the create wrote.
    target = {"rule": "tick", "target_id": "worker", "arn": f"arn:aws:lambda:r:1:function:{WORKER}"}
    (gone,) = check_plan(
        _one("aws_cloudwatch_event_target", ["create", "delete"], target, target), intended={}
    ).refusals
    assert "the delete would remove the target the create wrote" in gone.reason


def test_a_replaced_function_url_is_refused() -> None:
    before = {
        "function_name": WORKER,
        "qualifier": "",
        "function_url": "https://abc123.lambda-url.us-west-2.on.aws/",
        "authorization_type": "NONE",
    }
    after = {**before, "authorization_type": "AWS_IAM", "function_url": None}
    (refusal,) = check_plan(
        _one("aws_lambda_function_url", ["delete", "create"], before, after), intended={}
    ).refusals
    assert refusal.reason.startswith(
        "function_url: callers of https://abc123.lambda-url.us-west-2.on.aws/ (risk-worker) "
        "would find nothing there"
    )


def test_a_deleted_invoke_config_falls_back_to_lambdas_defaults() -> None:
    dlq = "arn:aws:sqs:us-west-2:123456789012:dlq"
    before = {
        "function_name": WORKER,
        "qualifier": "",
        "maximum_retry_attempts": 0,
        "maximum_event_age_in_seconds": 60,
        "destination_config": [{"on_failure": [{"destination": dlq}], "on_success": []}],
    }
    report = check_plan(
        _one("aws_lambda_function_event_invoke_config", ["delete"], before, None), intended={}
    )
    # Retries and age go up to the defaults (2, 6 h): only the lost destination is a risk.
    (refusal,) = report.refusals
    assert refusal.attribute == "event_invoke_config"
    assert "dropped instead of sent to dlq (the config is removed" in refusal.reason


def test_an_imported_alias_whose_version_differs_is_refused() -> None:
    before = {"function_name": WORKER, "name": "live", "function_version": "7"}
    plan = _one("aws_lambda_alias", ["update"], before, {**before, "function_version": "3"})
    plan["resource_changes"][0]["change"]["importing"] = {"id": f"{WORKER}/live"}
    (refusal,) = check_plan(plan, intended={}).refusals
    assert "would move from version 7 to version 3 outside a release" in refusal.reason


# ---- the command ---------------------------------------------------------------------------


def test_the_command_refuses_with_exit_1_and_allow_lets_it_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = tmp_path / "stack"
    stack.mkdir()
    (stack / "cdk.tf.json").write_text("{}")
    (stack / "tfplan").write_text("binary plan")
    binary = fake_terraform(
        tmp_path / "bin", version="1.11.4", show=PLANS / "risk-schedule-target-deleted.json"
    )
    monkeypatch.setenv("PATH", str(binary))
    args = ["plan-check", "--env", "legacy", "--stack-dir", str(stack), "--plan-file", "tfplan"]
    assert main(args) == EXIT_FAILURE
    out, err = capsys.readouterr()
    assert "1 to delete" in out.splitlines()[0] and "nothing deleted" not in out
    assert err.startswith(
        "error: plan-check refused the plan: aws_cloudwatch_event_target.tick[0] "
        "(risk-worker-tick/worker): event_target: rule risk-worker-tick would stop invoking "
        "risk-worker"
    )
    allow = ["--allow", "aws_cloudwatch_event_target.tick[0].event_target", "--json"]
    assert main([*args, *allow]) == EXIT_OK
    result = json.loads(capsys.readouterr().out)
    assert result["ok"] is True and result["summary"]["delete"] == 1
    assert [r["attribute"] for r in result["intended"]] == ["event_target"]


# ---- the vocabulary ------------------------------------------------------------------------


def test_every_word_a_rule_uses_is_in_the_vocabulary_the_model_validates() -> None:
    words = {word for _, word, _ in REFUSED.values()} | {
        "filter_criteria",
        "state",
        "event_invoke_config",
        "event_target",
        "arn",
        "function_url",
    }
    assert words <= set(RISKY_CHANGES)
    # And each is documented.
    documented = (Path(__file__).resolve().parents[2] / "docs" / "plan-check.md").read_text()
    assert all(f"`{word}`" in documented for word in RISKY_CHANGES)


def test_a_function_may_intend_a_risk_and_nothing_else() -> None:
    worker = FunctionConfig(
        name="worker",
        handler="app.worker.handler",
        intended_changes=("function_response_types", "memory_size"),
    )
    assert worker.intended_changes == ("function_response_types", "memory_size")
    with pytest.raises(ValueError, match=r"intended_changes: drop_everything not protected"):
        FunctionConfig(name="worker", handler="a.b", intended_changes=("drop_everything",))


def test_allow_takes_an_address_with_an_index_and_a_risk_word() -> None:
    legacy = ENVIRONMENTS["legacy"]
    assert resolve_allow(legacy, ["aws_lambda_permission.events[0].permission"]) == (
        ("aws_lambda_permission.events[0]", "permission"),
    )
    assert resolve_allow(legacy, ["api.function_response_types"]) == (
        ("bluemoxon-legacy-api", "function_response_types"),
    )
