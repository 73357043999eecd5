"""A moto server that keeps what AWS keeps where the adoption test depends on it.

Run as a script (`python tests/e2e/moto_fidelity.py -H HOST -p PORT`, the arguments of
`python -m moto.server`). One difference matters here: an event source mapping created or
updated with an alias ARN (`...:function:NAME:live`) reports that ARN back in AWS, and moto
reports the version the alias points at instead. Terraform would then see the mapping it
just moved to the alias as drifted on every plan. Nothing else is changed.
"""

from __future__ import annotations

import re
import sys
from typing import Any

from moto.awslambda import models

_QUALIFIED = re.compile(r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[^:]+:(?P<q>[^:]+)$")


def _keep_alias_arn(mapping: Any, function_name: object) -> None:
    found = _QUALIFIED.match(function_name) if isinstance(function_name, str) else None
    if found and not found["q"].isdigit() and found["q"] != "$LATEST":
        mapping.function_arn = function_name


def patch() -> None:
    backend = models.LambdaBackend
    create = backend.create_event_source_mapping
    update = backend.update_event_source_mapping

    def create_mapping(self: Any, spec: dict[str, Any]) -> Any:
        mapping = create(self, spec)
        _keep_alias_arn(mapping, spec.get("FunctionName"))
        return mapping

    def update_mapping(self: Any, uuid: str, spec: dict[str, Any]) -> Any:
        mapping = update(self, uuid, spec)
        if mapping is not None:
            _keep_alias_arn(mapping, spec.get("FunctionName"))
        return mapping

    backend.create_event_source_mapping = create_mapping  # type: ignore[method-assign]
    backend.update_event_source_mapping = update_mapping  # type: ignore[method-assign]


if __name__ == "__main__":
    patch()
    from moto.server import main

    main(sys.argv[1:])
