"""Small readers for synthesized Terraform JSON, so assertions say what they check."""

from __future__ import annotations

from typing import Any

Json = dict[str, Any]


def resources(stack: Json, type_: str) -> dict[str, Json]:
    found: dict[str, Json] = stack.get("resource", {}).get(type_, {})
    return found


def data_sources(stack: Json, type_: str) -> dict[str, Json]:
    found: dict[str, Json] = stack.get("data", {}).get(type_, {})
    return found


def only(mapping: dict[str, Json]) -> tuple[str, Json]:
    assert len(mapping) == 1, f"expected exactly one, got {sorted(mapping)}"
    return next(iter(mapping.items()))


def ref(type_: str, name: str, attribute: str) -> str:
    return f"${{{type_}.{name}.{attribute}}}"


def data_ref(type_: str, name: str, attribute: str) -> str:
    return f"${{data.{type_}.{name}.{attribute}}}"


def by_field(mapping: dict[str, Json], field: str) -> dict[str, tuple[str, Json]]:
    """Index resources by one of their arguments (e.g. function_name): value -> (id, body)."""
    return {body[field]: (name, body) for name, body in mapping.items()}


def policy_document_for(stack: Json, json_ref: str) -> Json:
    """The aws_iam_policy_document a `${data.aws_iam_policy_document.X.json}` points at."""
    prefix = "${data.aws_iam_policy_document."
    assert json_ref.startswith(prefix) and json_ref.endswith(".json}"), json_ref
    name = json_ref[len(prefix) : -len(".json}")]
    return data_sources(stack, "aws_iam_policy_document")[name]


def deployer_attachments(stack: Json) -> dict[str, Json]:
    """The deployer policy's attachment to the CI role (roles' own attachments left out)."""
    return {
        name: body
        for name, body in resources(stack, "aws_iam_role_policy_attachment").items()
        if name.startswith("deployer_policy")
    }


def imports(stack: Json) -> dict[str, str]:
    """The stack's import blocks: Terraform address -> the id imported into it."""
    return {block["to"]: block["id"] for block in stack.get("import", [])}
