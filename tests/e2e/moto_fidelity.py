"""A moto server that keeps what AWS keeps where the adoption test depends on it.

Run as a script (`python tests/e2e/moto_fidelity.py -H HOST -p PORT`, the arguments of
`python -m moto.server`). Two differences matter here, each of which Terraform would show as
drift on every plan:

- an event source mapping created or updated with an alias ARN (`...:function:NAME:live`)
  reports that ARN back in AWS, and moto reports the version the alias points at instead;
- a container-image function without an image configuration reports none in AWS, and moto
  reports empty `Command` and `EntryPoint` lists (Terraform: `image_config` to remove);
- a queue's `RedrivePolicy` is compact JSON in AWS, and moto's has spaces after separators
  (Terraform: "whitespace changes" on `redrive_policy`).

Nothing else is changed.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

from moto.awslambda import models
from moto.sqs import models as sqs_models

_QUALIFIED = re.compile(r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[^:]+:(?P<q>[^:]+)$")


def _keep_alias_arn(mapping: Any, function_name: object) -> None:
    found = _QUALIFIED.match(function_name) if isinstance(function_name, str) else None
    if found and not found["q"].isdigit() and found["q"] != "$LATEST":
        mapping.function_arn = function_name


def _patch_image_config() -> None:
    configuration = models.LambdaFunction.get_configuration

    def without_empty_image_config(self: Any, on_create: bool = False) -> dict[str, Any]:
        config: dict[str, Any] = configuration(self, on_create)
        image = config.get("ImageConfigResponse", {}).get("ImageConfig", {})
        if "ImageConfigResponse" in config and not any(image.values()):
            del config["ImageConfigResponse"]
        return config

    models.LambdaFunction.get_configuration = without_empty_image_config  # type: ignore[method-assign]


def _patch_redrive_policy() -> None:
    attributes = sqs_models.Queue.attributes.fget  # type: ignore[attr-defined]

    def compact(self: Any) -> dict[str, Any]:
        result: dict[str, Any] = attributes(self)
        if self.redrive_policy:
            result["RedrivePolicy"] = json.dumps(self.redrive_policy, separators=(",", ":"))
        return result

    sqs_models.Queue.attributes = property(compact)  # type: ignore[assignment]


def patch() -> None:
    _patch_image_config()
    _patch_redrive_policy()
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
