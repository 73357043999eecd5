"""Adoption: taking over resources that already exist instead of creating them again.

`Environment.adopt` is the one switch. While it is on, the stack emits a Terraform import
block (Terraform >= 1.5) for every resource the configuration says exists: each function,
its log group, a created role that exists (with its attachments and inline policy), the
alias when `Adopt.alias` says it exists, and triggers marked as existing. `FunctionConfig.adopt`
overrides, per function, which of its resources exist (a function added during the
migration adopts nothing: `ADOPT_NOTHING`).

Once applied, the imported resources are in state and the import blocks do nothing; turn
the switch off then (README, "Migrating an existing system").
"""

from __future__ import annotations

from dataclasses import dataclass

from environments.errors import ConfigError

# Import blocks need Terraform 1.5; the stack says so in `required_version` when it has any.
MIN_TERRAFORM_FOR_IMPORT = "1.5"


@dataclass(frozen=True, kw_only=True)
class Adopt:
    """Which of one function's resources already exist (imported while adoption is on)."""

    function: bool = True
    log_group: bool = True
    # A `CreatedRole` that exists: the role, its managed-policy attachments and its access
    # policy. An `ExistingRole` is never imported (the stack does not manage it).
    role: bool = True
    # Most functions have no alias before the migration; one that API Gateway invokes may.
    alias: bool = False

    def __post_init__(self) -> None:
        if self.alias and not self.function:
            raise ConfigError("adopt.alias: an existing alias needs adopt.function (its function)")

    @property
    def anything(self) -> bool:
        return self.function or self.log_group or self.role or self.alias


ADOPT_ALL_BUT_ALIAS = Adopt()
ADOPT_NOTHING = Adopt(function=False, log_group=False, role=False, alias=False)
