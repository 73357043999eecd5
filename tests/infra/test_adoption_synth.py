"""The `legacy` stack adopts what exists: import blocks for exactly those resources, with the
id each resource type takes, and the existing settings carried over unchanged."""

from __future__ import annotations

from environments import ENVIRONMENTS, ExistingRole
from environments.catalog import LEGACY_EXAMPLE_MAPPING_UUID, LEGACY_EXAMPLE_NETWORK

from .conftest import Synth
from .tfjson import Json, by_field, data_sources, imports, resources

LEGACY = ENVIRONMENTS["legacy"]
CLEANUP_ROLE = "bluemoxon-legacy-cleanup-exec"


def _stack(synth: Synth) -> Json:
    return synth.stacks["legacy"]


def _imported_ids(stack: Json) -> dict[str, list[str]]:
    """Import ids by resource type."""
    found: dict[str, list[str]] = {}
    for address, import_id in imports(stack).items():
        found.setdefault(address.split(".")[0], []).append(import_id)
    return {type_: sorted(ids) for type_, ids in found.items()}


def test_every_existing_resource_is_imported_with_its_id(synth: Synth) -> None:
    names = LEGACY.function_names
    assert _imported_ids(_stack(synth)) == {
        "aws_lambda_function": sorted(names),
        "aws_cloudwatch_log_group": sorted(f"/aws/lambda/{n}" for n in names),
        # Only the API had an alias (API Gateway invokes it), with its permission.
        "aws_lambda_alias": ["bluemoxon-legacy-api/live"],
        "aws_lambda_permission": ["bluemoxon-legacy-api:live/AllowAPIGatewayInvoke"],
        # The cleanup role is described as created: the role, its listed attachments and
        # its named access policy exist. The shared role is only used (never imported).
        "aws_iam_role": [CLEANUP_ROLE],
        "aws_iam_role_policy": [f"{CLEANUP_ROLE}:bluemoxon-legacy-cleanup-access"],
        "aws_iam_role_policy_attachment": sorted(
            f"{CLEANUP_ROLE}/{arn}"
            for arn in (
                "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
                "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess",
            )
        ),
        "aws_lambda_event_source_mapping": [LEGACY_EXAMPLE_MAPPING_UUID],
        "aws_cloudwatch_event_rule": ["bluemoxon-legacy-cleanup-schedule"],
        "aws_cloudwatch_event_target": ["bluemoxon-legacy-cleanup-schedule/cleanup"],
    }


def test_adoption_needs_terraform_1_5_and_accepts_the_5x_state(synth: Synth) -> None:
    terraform = _stack(synth)["terraform"]
    assert terraform["required_version"] == ">= 1.5"
    assert terraform["required_providers"]["aws"]["version"] == "~> 5.100"
    # staging and prod adopt the running estate too (test_estate_files.py); local creates.
    assert "import" not in synth.stacks["local"]
    assert "required_version" not in synth.stacks["local"]["terraform"]


def test_functions_keep_their_real_names_and_settings(synth: Synth) -> None:
    functions = by_field(resources(_stack(synth), "aws_lambda_function"), "function_name")
    assert "bluemoxon-legacy-runbook-worker" in functions
    _, api = functions["bluemoxon-legacy-api"]
    assert (api["memory_size"], api["timeout"]) == (512, 600)
    assert api["environment"]["variables"]["IMAGES_BUCKET"] == "bluemoxon-legacy-images"
    assert api["vpc_config"]["subnet_ids"] == list(LEGACY_EXAMPLE_NETWORK.subnet_ids)
    assert api["tracing_config"] == {"mode": "Active"}
    assert api["tags"] == {"Project": "bluemoxon", "Environment": "legacy", "Component": "api"}
    _, worker = functions["bluemoxon-legacy-runbook-worker"]
    assert worker["reserved_concurrent_executions"] == 5
    _, db_sync = functions["bluemoxon-legacy-db-sync"]
    assert db_sync["ephemeral_storage"] == {"size": 2048}
    assert db_sync["tracing_config"] == {"mode": "PassThrough"}


def test_an_existing_role_is_read_once_and_never_managed(synth: Synth) -> None:
    stack = _stack(synth)
    shared = [f for f in LEGACY.functions if isinstance(f.role, ExistingRole)]
    assert len(shared) == 3
    (role,) = data_sources(stack, "aws_iam_role").values()
    assert role["name"] == "bluemoxon-legacy-lambda-exec"
    names = {r["name"] for r in resources(stack, "aws_iam_role").values()}
    assert names == {CLEANUP_ROLE}
