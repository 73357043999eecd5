"""The hand-over's pure part: our import ids matched to the old root's state by identity,
`removed` blocks only for resources that move whole, references listed with what replaces
them. (Real terraform proves the plans in tests/e2e/test_handover.py.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scripts.infra.plan_parse import Change
from scripts.migration.handover import plan_handover, removed_blocks
from scripts.migration.handover_refs import find_references
from scripts.migration.handover_run import judge_old_plan

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
        # everything in that module call moves: the call goes whole
        "module.logs",
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


def _module_state() -> dict[str, Any]:
    """A root shaped like the real estate's: one `modules/lambda` called per function (a
    for_each call for the workers), the image function's call staying behind."""

    def call(address: str, name: str) -> dict[str, Any]:
        return {
            "address": address,
            "resources": [
                _resource(
                    f"{address}.aws_lambda_function.this",
                    "aws_lambda_function",
                    id=name,
                    function_name=name,
                ),
                _resource(
                    f"{address}.aws_iam_role.this",
                    "aws_iam_role",
                    id=f"{name}-role",
                    name=f"{name}-role",
                ),
            ],
        }

    return {
        "values": {
            "root_module": {
                "resources": [
                    _resource(
                        f'aws_lambda_event_source_mapping.jobs["{key}"]',
                        "aws_lambda_event_source_mapping",
                        id=f"u-{key}",
                        uuid=f"u-{key}",
                    )
                    for key in ("a", "image")
                ],
                "child_modules": [
                    call("module.api", "x-api"),
                    call('module.worker["a"]', "x-a"),
                    call('module.worker["b"]', "x-b"),
                    call("module.image", "x-image"),
                ],
            }
        }
    }


MODULE_IMPORTS = (
    [(f"aws_lambda_function.{n}", f"x-{n}") for n in ("api", "a", "b")]
    + [(f"aws_iam_role.{n}", f"x-{n}-role") for n in ("api", "a", "b")]
    + [("aws_lambda_event_source_mapping.a", "u-a")]
)


def test_a_module_call_that_moves_whole_is_removed_by_its_call_never_by_instance_keys() -> None:
    plan = plan_handover(MODULE_IMPORTS, _module_state())
    # Terraform refuses `from = module.worker["a"].aws_lambda_function.this`; and the
    # module's source is shared with the image function's call, which stays.
    assert plan.removed == ("module.api", "module.worker")
    assert plan.state_rm == ('aws_lambda_event_source_mapping.jobs["a"]',)
    assert set(plan.by_removed_block) == {
        "module.api.aws_lambda_function.this",
        "module.api.aws_iam_role.this",
        'module.worker["a"].aws_lambda_function.this',
        'module.worker["a"].aws_iam_role.this',
        'module.worker["b"].aws_lambda_function.this',
        'module.worker["b"].aws_iam_role.this',
    }
    text = removed_blocks(plan, env_name="staging")
    assert "from = module.worker\n" in text and "[" not in text


def test_references_to_a_removed_module_call_read_its_outputs_resource(tmp_path: Path) -> None:
    (tmp_path / "modules" / "lambda").mkdir(parents=True)
    (tmp_path / "modules" / "lambda" / "main.tf").write_text(
        'output "invoke_arn" {\n  value = aws_lambda_function.this.invoke_arn\n}\n'
        'output "role_arn" {\n  description = "the role"\n  value = aws_iam_role.this.arn\n}\n'
        'output "both" {\n  value = [aws_iam_role.this.arn]\n}\n'
    )
    (tmp_path / "main.tf").write_text(
        'module "api" {\n  source = "./modules/lambda"\n  name = "x-api"\n}\n'
        'resource "aws_apigatewayv2_integration" "i" {\n'
        "  integration_uri = module.api.invoke_arn\n}\n"
        'resource "aws_lambda_permission" "p" {\n  principal = module.api.role_arn\n}\n'
        'output "both" {\n  value = module.api.both\n}\n'
        "locals {\n  arns = { for k, m in module.worker : k => m.arn }\n}\n"
    )
    plan = plan_handover(MODULE_IMPORTS, _module_state())
    found = [(r.line, r.expression, r.replacement) for r in find_references(tmp_path, plan)]
    assert found[:3] == [
        (6, "module.api.invoke_arn", "data.aws_lambda_function.api.invoke_arn"),
        (9, "module.api.role_arn", "data.aws_iam_role.api.arn"),
        # an output that is not one attribute of one resource: said, not guessed
        (12, "module.api.both", "(the value of module.api.both: read it with a data source)"),
    ]
    (line, expression, replacement) = found[3]
    assert (line, expression) == (15, "module.worker") and replacement.startswith("(drop it")
    data = find_references(tmp_path, plan)[0].data_block
    assert data == 'data "aws_lambda_function" "api" {\n  function_name = "x-api"\n}'


def test_the_old_roots_proof_waits_for_state_rm_and_refuses_what_it_creates_again() -> None:
    plan = plan_handover(MODULE_IMPORTS, _module_state())
    forget = [
        Change(address=a, type=a.rsplit(".", 2)[-2], action="forget") for a in plan.by_removed_block
    ]
    mapping = 'aws_lambda_event_source_mapping.jobs["a"]'
    type_ = "aws_lambda_event_source_mapping"
    # Not yet `state rm`ed: the old root still owns it (its next apply reverts ours).
    held = judge_old_plan(plan, [*forget, Change(address=mapping, type=type_, action="no-op")])
    assert (held["state"], held["state_rm_pending"]) == ("todo", [mapping])
    # Removed from the state while its key stays in the for_each: created again.
    again = judge_old_plan(plan, [*forget, Change(address=mapping, type=type_, action="create")])
    assert (again["state"], again["created_again"]) == ("todo", [mapping])
    done = judge_old_plan(plan, forget)
    assert done["state"] == "done" and done["forget_mismatch"] == []
