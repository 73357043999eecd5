"""Per-environment settings shared by the CDKTF app and the build/deploy scripts.

Both sides read this package, so it imports nothing of ours and nothing of cdktf: the
scripts must stay fast to start, and a setting changed here reaches Terraform and the
deploy tooling at once instead of drifting between two copies.

Every class is frozen and validated on construction, so a bad value fails where it is
written with a message that names the field and what is allowed.
"""

from environments.backend import BackendSpec, PackageSpec
from environments.catalog import (
    ENVIRONMENTS,
    LOCAL_ENDPOINT_DEFAULT,
    default_functions,
    get_environment,
)
from environments.model import (
    MAX_LAYERS,
    REPO_ROOT,
    SUPPORTED_ARCHITECTURES,
    SUPPORTED_RUNTIMES,
    Environment,
    FunctionConfig,
    StateBackend,
)

__all__ = [
    "ENVIRONMENTS",
    "LOCAL_ENDPOINT_DEFAULT",
    "MAX_LAYERS",
    "REPO_ROOT",
    "SUPPORTED_ARCHITECTURES",
    "SUPPORTED_RUNTIMES",
    "BackendSpec",
    "Environment",
    "FunctionConfig",
    "PackageSpec",
    "StateBackend",
    "default_functions",
    "get_environment",
]
