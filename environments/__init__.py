"""Per-environment settings shared by the CDKTF app and the build/deploy scripts.

Both sides read this package, so it imports nothing of ours and nothing of cdktf: the
scripts must stay fast to start, and a setting changed here reaches Terraform and the
deploy tooling at once instead of drifting between two copies.

Every class is frozen and validated on construction, so a bad value fails where it is
written with a message that names the field and what is allowed. The environments are
files, `environments/<name>.toml` (catalog.py reads them, codec.py is the format).
"""

from environments.adoption import ADOPT_ALL_BUT_ALIAS, ADOPT_NOTHING, Adopt
from environments.callers import AsyncInvoke, ExternalCaller
from environments.catalog import (
    ENVIRONMENTS,
    ENVIRONMENTS_DIR,
    LOCAL_ENDPOINT_DEFAULT,
    environment_text,
    get_environment,
    legacy_environment,
    load_environment_file,
)
from environments.checks import Hook, SmokeCheck
from environments.errors import ConfigError, ConfigFileError
from environments.function import MAX_LAYERS, TRACING_MODES, FunctionConfig
from environments.intended import INTENDED_CHANGES, PROTECTED_ATTRIBUTES, RISKY_CHANGES
from environments.model import (
    AWS_PROVIDER_BINDINGS_VERSION,
    REPO_ROOT,
    SUPPORTED_ARCHITECTURES,
    SUPPORTED_RUNTIMES,
    Environment,
    StateBackend,
    UnmanagedFunction,
)
from environments.network import VpcConfig
from environments.packaging import BackendSpec, PackageSpec
from environments.roles import CreatedRole, ExistingRole, InlinePolicy, PolicyStatement
from environments.triggers import InvokePermission, ScheduleTrigger, SqsTrigger

__all__ = [
    "ADOPT_ALL_BUT_ALIAS",
    "ADOPT_NOTHING",
    "AWS_PROVIDER_BINDINGS_VERSION",
    "ENVIRONMENTS",
    "ENVIRONMENTS_DIR",
    "INTENDED_CHANGES",
    "LOCAL_ENDPOINT_DEFAULT",
    "MAX_LAYERS",
    "PROTECTED_ATTRIBUTES",
    "REPO_ROOT",
    "RISKY_CHANGES",
    "SUPPORTED_ARCHITECTURES",
    "SUPPORTED_RUNTIMES",
    "TRACING_MODES",
    "Adopt",
    "AsyncInvoke",
    "BackendSpec",
    "ConfigError",
    "ConfigFileError",
    "CreatedRole",
    "Environment",
    "ExistingRole",
    "ExternalCaller",
    "FunctionConfig",
    "Hook",
    "InlinePolicy",
    "InvokePermission",
    "PackageSpec",
    "PolicyStatement",
    "ScheduleTrigger",
    "SmokeCheck",
    "SqsTrigger",
    "StateBackend",
    "UnmanagedFunction",
    "VpcConfig",
    "environment_text",
    "get_environment",
    "legacy_environment",
    "load_environment_file",
]
