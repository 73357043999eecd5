"""Per-environment settings shared by the CDKTF app and the build/deploy scripts.

Both sides read this package, so it imports nothing of ours and nothing of cdktf: the
scripts must stay fast to start, and a setting changed here reaches Terraform and the
deploy tooling at once instead of drifting between two copies.

Every class is frozen and validated on construction, so a bad value fails where it is
written with a message that names the field and what is allowed.
"""

from environments.adoption import ADOPT_ALL_BUT_ALIAS, ADOPT_NOTHING, Adopt
from environments.catalog import (
    ENVIRONMENTS,
    LOCAL_ENDPOINT_DEFAULT,
    default_functions,
    get_environment,
    legacy_environment,
)
from environments.checks import Hook, SmokeCheck
from environments.errors import ConfigError
from environments.function import MAX_LAYERS, PROTECTED_ATTRIBUTES, TRACING_MODES, FunctionConfig
from environments.model import (
    AWS_PROVIDER_BINDINGS_VERSION,
    REPO_ROOT,
    SUPPORTED_ARCHITECTURES,
    SUPPORTED_RUNTIMES,
    Environment,
    StateBackend,
)
from environments.network import VpcConfig
from environments.packaging import BackendSpec, PackageSpec
from environments.roles import CreatedRole, ExistingRole, PolicyStatement
from environments.triggers import InvokePermission, ScheduleTrigger, SqsTrigger

__all__ = [
    "ADOPT_ALL_BUT_ALIAS",
    "ADOPT_NOTHING",
    "AWS_PROVIDER_BINDINGS_VERSION",
    "ENVIRONMENTS",
    "LOCAL_ENDPOINT_DEFAULT",
    "MAX_LAYERS",
    "PROTECTED_ATTRIBUTES",
    "REPO_ROOT",
    "SUPPORTED_ARCHITECTURES",
    "SUPPORTED_RUNTIMES",
    "TRACING_MODES",
    "Adopt",
    "BackendSpec",
    "ConfigError",
    "CreatedRole",
    "Environment",
    "ExistingRole",
    "FunctionConfig",
    "Hook",
    "InvokePermission",
    "PackageSpec",
    "PolicyStatement",
    "ScheduleTrigger",
    "SmokeCheck",
    "SqsTrigger",
    "StateBackend",
    "VpcConfig",
    "default_functions",
    "get_environment",
    "legacy_environment",
]
