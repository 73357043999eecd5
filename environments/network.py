"""Where a function runs: the VPC placement of an existing or new function."""

from __future__ import annotations

import re
from dataclasses import dataclass

from environments.errors import ConfigError

# Lambda's own limits on one function's VPC configuration.
MAX_SUBNETS = 16
MAX_SECURITY_GROUPS = 5
_SUBNET_ID = re.compile(r"^subnet-[0-9a-f]{8,17}$")
_SECURITY_GROUP_ID = re.compile(r"^sg-[0-9a-f]{8,17}$")


def _ids(field_name: str, values: tuple[str, ...], pattern: re.Pattern[str], limit: int) -> None:
    if not values:
        raise ConfigError(f"{field_name}: at least one id is required")
    if len(values) > limit:
        raise ConfigError(f"{field_name}: at most {limit}, got {len(values)}")
    for value in values:
        if not pattern.match(value):
            raise ConfigError(f"{field_name}: {value!r} is not an id like {pattern.pattern}")
    if len(set(values)) != len(values):
        raise ConfigError(f"{field_name}: duplicate ids in {', '.join(values)}")


@dataclass(frozen=True, kw_only=True)
class VpcConfig:
    """The subnets and security groups a function's network interfaces use.

    Given for a function, the stack sets its `vpc_config` and, for a role it creates, attaches
    the ENI permissions Lambda needs to place the function there.
    """

    subnet_ids: tuple[str, ...]
    security_group_ids: tuple[str, ...]

    def __post_init__(self) -> None:
        _ids("vpc.subnet_ids", self.subnet_ids, _SUBNET_ID, MAX_SUBNETS)
        _ids(
            "vpc.security_group_ids",
            self.security_group_ids,
            _SECURITY_GROUP_ID,
            MAX_SECURITY_GROUPS,
        )
