"""What a release runs to prove itself: hooks before the switch, smoke checks after it.

An invocation is a JSON event and what the answer must contain (`expect`, a subset: every
key given must be in the answer with an equal value, objects compared the same way
recursively). The event may be written as a table or as JSON text; either way it must be
a JSON object. The owner checks it (`checked(where)`: FunctionConfig for a smoke check, the
Environment for its hooks), so the message names the key in the environment's file and a
typo fails when the environment loads (exit 2), before a release changes anything.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from environments.errors import ConfigError


def json_object(where: str, value: Any) -> Mapping[str, Any]:
    """`value` (a mapping, or JSON text of an object) as a read-only JSON object."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as err:
            raise ConfigError(f"{where}: not valid JSON ({err}); write a JSON object") from None
    if not isinstance(value, Mapping):
        # ValueError, not TypeError: the CLI maps configuration errors to exit 2.
        raise ConfigError(f"{where}: got {type(value).__name__}; write a JSON object ({{...}})")
    try:
        # Round-trip: a TOML date or a set would reach Lambda as nothing it can parse.
        copied = json.loads(json.dumps(dict(value), allow_nan=False))
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{where}: not representable as JSON ({err})") from None
    return MappingProxyType(copied)


def contains(answer: Any, expect: Any) -> bool:
    """Whether `answer` holds `expect`: objects as subsets (recursively), the rest equal."""
    if isinstance(expect, Mapping):
        return isinstance(answer, Mapping) and all(
            key in answer and contains(answer[key], value) for key, value in expect.items()
        )
    return bool(answer == expect)


@dataclass(frozen=True, kw_only=True)
class SmokeCheck:
    """One function's smoke check: invoked through the alias after the switch."""

    event: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    expect: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def checked(self, where: str) -> SmokeCheck:
        """This check with its event and expect validated as JSON objects (`where`: its key)."""
        return SmokeCheck(
            event=json_object(f"{where}.event", self.event),
            expect=json_object(f"{where}.expect", self.expect),
        )

    def payload(self) -> bytes:
        return json.dumps(dict(self.event), sort_keys=True).encode()

    def to_json(self) -> dict[str, Any]:
        return {"event": dict(self.event), "expect": dict(self.expect)}


@dataclass(frozen=True, kw_only=True)
class Hook:
    """An invocation of a function's NEW version before any alias moves (a migration)."""

    function: str
    event: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    expect: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def checked(self, where: str, functions: tuple[str, ...]) -> Hook:
        """This hook validated (`where`: its key); `functions`: the environment's names."""
        if self.function not in functions:
            raise ConfigError(
                f"{where}.function: got {self.function!r}; allowed: {', '.join(functions)}"
            )
        return Hook(
            function=self.function,
            event=json_object(f"{where}.event", self.event),
            expect=json_object(f"{where}.expect", self.expect),
        )

    def payload(self) -> bytes:
        return json.dumps(dict(self.event), sort_keys=True).encode()

    def to_json(self) -> dict[str, Any]:
        return {"function": self.function, "event": dict(self.event), "expect": dict(self.expect)}
