"""The single boundary to the prebuilt AWS provider bindings, and the fast way to import them.

Why this module exists: the package `cdktf_cdktf_provider_aws` runs an `__init__` that
eagerly imports all 2,212 of its submodules, whichever resource you need (cdktf issue 3753;
upstream fixed it only for locally generated bindings, PR 3030). That import is about 80% of
synth time and ~540 MB of Python memory. Every submodule is self-contained (it imports only
`.._jsii`, jsii, cdktf and constructs), so the fast path registers the package in
`sys.modules` WITHOUT running its `__init__` and then imports only the submodules listed in
`_NAMES`. The synthesized JSON is identical either way (tests/infra/test_fast_import.py).

Usage: constructs read provider classes as attributes at call time (`_aws.LambdaFunction(...)`),
never with `from infra_constructs._aws import ...` at module top, so that the entry point can
choose the import mode with `load_provider(fast=...)` before anything is loaded. The first
access without a choice loads the fast way. This module reads no environment variables:
`main.py` maps `LAYERS_FAST_PROVIDER_IMPORT` onto the `fast` parameter.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from types import ModuleType
from typing import Any

PACKAGE = "cdktf_cdktf_provider_aws"

# Every provider name the constructs use, with the submodule that defines it. Adding a
# resource means adding a line here; nothing else imports the provider package.
_NAMES: dict[str, str] = {
    "AwsProvider": "provider",
    "AwsProviderDefaultTags": "provider",
    "AwsProviderEndpoints": "provider",
    "CloudwatchEventRule": "cloudwatch_event_rule",
    "CloudwatchEventTarget": "cloudwatch_event_target",
    "CloudwatchLogGroup": "cloudwatch_log_group",
    "DataAwsCallerIdentity": "data_aws_caller_identity",
    "DataAwsCloudwatchLogGroup": "data_aws_cloudwatch_log_group",
    "DataAwsIamPolicyDocument": "data_aws_iam_policy_document",
    "DataAwsIamPolicyDocumentStatement": "data_aws_iam_policy_document",
    "DataAwsIamPolicyDocumentStatementCondition": "data_aws_iam_policy_document",
    "DataAwsIamPolicyDocumentStatementPrincipals": "data_aws_iam_policy_document",
    "DataAwsIamRole": "data_aws_iam_role",
    "DataAwsS3Bucket": "data_aws_s3_bucket",
    "IamPolicy": "iam_policy",
    "IamRole": "iam_role",
    "IamRolePolicy": "iam_role_policy",
    "IamRolePolicyAttachment": "iam_role_policy_attachment",
    "LambdaAlias": "lambda_alias",
    "LambdaEventSourceMapping": "lambda_event_source_mapping",
    "LambdaEventSourceMappingFilterCriteria": "lambda_event_source_mapping",
    "LambdaEventSourceMappingFilterCriteriaFilter": "lambda_event_source_mapping",
    "LambdaEventSourceMappingScalingConfig": "lambda_event_source_mapping",
    "LambdaFunction": "lambda_function",
    "LambdaFunctionDeadLetterConfig": "lambda_function",
    "LambdaFunctionEnvironment": "lambda_function",
    "LambdaFunctionEphemeralStorage": "lambda_function",
    "LambdaFunctionEventInvokeConfig": "lambda_function_event_invoke_config",
    "LambdaFunctionEventInvokeConfigDestinationConfig": "lambda_function_event_invoke_config",
    "LambdaFunctionEventInvokeConfigDestinationConfigOnFailure": (
        "lambda_function_event_invoke_config"
    ),
    "LambdaFunctionEventInvokeConfigDestinationConfigOnSuccess": (
        "lambda_function_event_invoke_config"
    ),
    "LambdaFunctionLoggingConfig": "lambda_function",
    "LambdaFunctionTracingConfig": "lambda_function",
    "LambdaFunctionVpcConfig": "lambda_function",
    "LambdaLayerVersion": "lambda_layer_version",
    "LambdaPermission": "lambda_permission",
    "LambdaProvisionedConcurrencyConfig": "lambda_provisioned_concurrency_config",
}

_mode: str | None = None  # "fast" or "full" once loaded


def _register_without_init() -> None:
    """Put an empty package module in sys.modules: submodule imports then skip `__init__`."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.submodule_search_locations is None:
        raise ImportError(f"{PACKAGE} is not installed: run `make setup`")
    # module_from_spec sets __path__, __spec__ and __loader__ but does not execute the
    # package body; `from .._jsii import *` in each submodule loads the jsii assembly.
    sys.modules[PACKAGE] = importlib.util.module_from_spec(spec)


def load_provider(*, fast: bool = True) -> str:
    """Load the provider package once, the fast way or the normal way; return the mode used.

    Asking for the other mode after the package is loaded is an error: the process would
    silently keep the first one, and a test comparing the two would compare nothing.
    """
    global _mode  # noqa: PLW0603 - one process-wide import mode, like sys.modules itself
    wanted = "fast" if fast else "full"
    if _mode is None:
        if PACKAGE not in sys.modules:
            if fast:
                _register_without_init()
            else:
                importlib.import_module(PACKAGE)
        # The package body defines __all__; a module registered without it has none.
        _mode = "full" if hasattr(sys.modules[PACKAGE], "__all__") else "fast"
        for submodule in sorted(set(_NAMES.values())):
            importlib.import_module(f"{PACKAGE}.{submodule}")
    if _mode != wanted:
        raise RuntimeError(
            f"provider already loaded the {_mode} way; choose the mode before the first use"
        )
    return _mode


def mode() -> str | None:
    """How the provider was loaded ("fast", "full"), or None before first use."""
    return _mode


def loaded_submodule_count() -> int:
    """How many provider submodules are in memory: 2,212-ish the normal way, a dozen fast."""
    prefix = PACKAGE + "."
    return sum(1 for name in sys.modules if name.startswith(prefix) and name.count(".") == 1)


def __getattr__(name: str) -> Any:
    """Resolve a provider class listed in `_NAMES`, loading the package (fast) on first use."""
    submodule = _NAMES.get(name)
    if submodule is None:
        raise AttributeError(f"{__name__} has no attribute {name!r}; add it to _NAMES")
    if _mode is None:
        load_provider(fast=True)
    module: ModuleType = sys.modules[f"{PACKAGE}.{submodule}"]
    return getattr(module, name)
