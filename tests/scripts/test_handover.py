"""The hand-over's pure part: our import ids matched to the old root's state by identity,
`removed` blocks only for resources that move whole, references listed with what replaces
them. (Real terraform proves the plans in tests/e2e/test_handover.py.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scripts.migration.handover import plan_handover, removed_blocks
from scripts.migration.handover_refs import find_references

FN = "arn:aws:lambda:us-west-2:123456789012:function:"


def _resource(address: str, type_: str, **values: Any) -> dict[str, Any]:
    return {"address": address, "mode": "managed", "type": type_, "values": values}


STATE = {
    "format_version": "1.0",
    "values": {
        "root_module": {
            "resources": [
                _resource(
                    'aws_lambda_function.fn["api"]',
                    "aws_lambda_function",
                    id="x-api",
                    function_name="x-api",
                ),
                _resource(
                    'aws_lambda_function.fn["ui"]',
                    "aws_lambda_function",
                    id="x-ui",
                    function_name="x-ui",
                ),
                _resource("aws_iam_role.api", "aws_iam_role", id="x-api-role", name="x-api-role"),
                _resource(
                    "aws_lambda_permission.gw",
                    "aws_lambda_permission",
                    id="AllowGw",
                    function_name=f"{FN}x-api",
                    statement_id="AllowGw",
                    qualifier="",
                ),
                _resource(
                    "aws_cloudwatch_event_target.t",
                    "aws_cloudwatch_event_target",
                    id="r-t",
                    rule="r",
                    target_id="t",
                ),
                _resource(
                    "aws_lambda_event_source_mapping.q",
                    "aws_lambda_event_source_mapping",
                    id="u-1",
                    uuid="u-1",
                ),
                _resource("aws_s3_bucket.site", "aws_s3_bucket", id="site", bucket="site"),
            ],
            "child_modules": [
                {
                    "address": "module.logs",
                    "resources": [
                        _resource(
                            "module.logs.aws_cloudwatch_log_group.this",
                            "aws_cloudwatch_log_group",
                            id="/aws/lambda/x-api",
                            name="/aws/lambda/x-api",
                        ),
                    ],
                }
            ],
        }
    },
}
IMPORTS = [
    ("aws_lambda_function.function_api", "x-api"),
    ("aws_iam_role.role_api", "x-api-role"),
    ("aws_lambda_permission.perm", "x-api/AllowGw"),
    ("aws_cloudwatch_event_target.target", "r/t"),
    ("aws_lambda_event_source_mapping.map", "u-1"),
    ("aws_cloudwatch_log_group.logs", "/aws/lambda/x-api"),
    ("aws_lambda_alias.alias", "x-api/live"),
]


def test_imports_are_matched_by_identity_not_address() -> None:
    plan = plan_handover(IMPORTS, STATE)
    found = {m.ours: m.old.address if m.old else None for m in plan.moves}
    assert found == {
        "aws_lambda_function.function_api": 'aws_lambda_function.fn["api"]',
        "aws_iam_role.role_api": "aws_iam_role.api",
        # function_name given as an ARN there, as a name in our import id
        "aws_lambda_permission.perm": "aws_lambda_permission.gw",
        "aws_cloudwatch_event_target.target": "aws_cloudwatch_event_target.t",
        "aws_lambda_event_source_mapping.map": "aws_lambda_event_source_mapping.q",
        "aws_cloudwatch_log_group.logs": "module.logs.aws_cloudwatch_log_group.this",
        # the alias does not exist in the old root: nothing to forget
        "aws_lambda_alias.alias": None,
    }


def test_removed_blocks_only_for_resources_that_move_whole() -> None:
    plan = plan_handover(IMPORTS, STATE)
    # fn["ui"] stays in the old root, so fn cannot be removed whole: one state rm instead.
    assert plan.state_rm == ('aws_lambda_function.fn["api"]',)
    assert "aws_lambda_function.fn" not in plan.removed
    assert plan.removed == (
        "aws_cloudwatch_event_target.t",
        "aws_iam_role.api",
        "aws_lambda_event_source_mapping.q",
        "aws_lambda_permission.gw",
        "module.logs.aws_cloudwatch_log_group.this",
    )
    text = removed_blocks(plan, env_name="staging")
    assert text.count("removed {") == 5 and text.count("destroy = false") == 5
    assert "aws_s3_bucket" not in text


def test_references_to_moved_resources_name_their_replacement(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(
        'resource "aws_iam_role" "api" {\n  name = "x-api-role"\n}\n'
        'resource "aws_s3_bucket_policy" "p" {\n  policy = aws_iam_role.api.arn\n}\n'
        'output "role" {\n  value = aws_iam_role.api.name\n}\n'
        'output "mapping" {\n  value = aws_lambda_event_source_mapping.q.uuid\n}\n'
    )
    plan = plan_handover(IMPORTS, STATE)
    found = [(r.line, r.expression, r.replacement) for r in find_references(tmp_path, plan)]
    assert found == [
        (5, "aws_iam_role.api.arn", "data.aws_iam_role.api.arn"),
        (8, "aws_iam_role.api.name", "data.aws_iam_role.api.name"),
        # no data source reads a mapping: the literal from the state
        (11, "aws_lambda_event_source_mapping.q.uuid", '"u-1"'),
    ]
    data = find_references(tmp_path, plan)[0].data_block
    assert data == 'data "aws_iam_role" "api" {\n  name = "x-api-role"\n}'
