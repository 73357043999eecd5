"""The environment file format: TOML read into the typed model, and the model written back.

Generic and driven by the dataclasses' own type hints, so a field added to the model is
readable and writable at once, with nothing to keep in step. What TOML lacks is mapped
by one rule each:
- `X | None`: the key is left out (None is the field's default wherever it is allowed).
- A union of classes (a role, a trigger): a table whose `kind` names the class (KIND).
- `Path`: text relative to the repository root (absolute when outside it).
- A tuple of tables: an array of tables; a `Mapping[str, str]`: a table of strings.

Every problem is one `ConfigFileError` line: `FILE: KEY: what is wrong; the fix`.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import tomli_w

from environments.errors import ConfigFileError

T = TypeVar("T")
KIND = "kind"


class _FieldError(Exception):
    """A problem at `key`; the loader adds the file name."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}" if key else message)


def loads(text: str, cls: type[T], *, source: str, root: Path) -> T:
    """Parse TOML `text` into `cls`; `source` names the file in every error."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigFileError(f"{source}: TOML syntax error: {err}") from None
    try:
        return typing.cast(T, _decode(cls, data, "", root))
    except _FieldError as err:
        raise ConfigFileError(f"{source}: {err}") from None


def dumps(value: object, *, root: Path) -> str:
    """TOML text that `loads` reads back into an equal value."""
    encoded = _encode(value, root)
    assert isinstance(encoded, dict)  # noqa: S101 - a dataclass always encodes to a table
    return tomli_w.dumps(encoded, multiline_strings=False)


# ---- reading --------------------------------------------------------------------------


def _describe(value: object) -> str:
    names = {bool: "a boolean", int: "an integer", str: "a string", float: "a float"}
    name = names.get(type(value))
    if name:
        return f"{name} {value!r}"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__


def _decode(hint: Any, raw: object, key: str, root: Path) -> object:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return _decode_union(typing.get_args(hint), raw, key, root)
    if origin is typing.Literal:
        allowed = typing.get_args(hint)
        if raw not in allowed:
            raise _FieldError(key, f"got {raw!r}; allowed: {', '.join(map(str, allowed))}")
        return raw
    if origin is tuple:
        if not isinstance(raw, list):
            raise _FieldError(key, f"got {_describe(raw)}; expected an array")
        item = typing.get_args(hint)[0]
        return tuple(_decode(item, v, _item_key(key, i, v), root) for i, v in enumerate(raw))
    if origin is Mapping:
        if typing.get_args(hint)[1] is Any:
            # A JSON object (a check's event): a table, or JSON text; its class parses it.
            if not isinstance(raw, dict | str):
                raise _FieldError(key, f"got {_describe(raw)}; expected a table or JSON text")
            return raw
        return _decode_mapping(raw, key)
    if dataclasses.is_dataclass(hint):
        return _decode_class(typing.cast(type, hint), raw, key, root)
    return _decode_scalar(hint, raw, key, root)


def _item_key(key: str, index: int, raw: object) -> str:
    """`functions[api]` for a table with a name, else `triggers[0]`."""
    label = raw.get("name") if isinstance(raw, dict) else None
    return f"{key}[{label if isinstance(label, str) and label else index}]"


def _decode_scalar(hint: Any, raw: object, key: str, root: Path) -> object:
    if hint is Path:
        if not isinstance(raw, str) or not raw:
            raise _FieldError(key, f"got {_describe(raw)}; expected a path relative to the repo")
        return root / raw
    # bool is an int in Python; a TOML `true` is never a number here.
    expected = {bool: "a boolean", int: "an integer", str: "a string"}
    if hint in expected:
        if type(raw) is not hint:
            raise _FieldError(key, f"got {_describe(raw)}; expected {expected[hint]}")
        return raw
    raise _FieldError(key, f"cannot read a value of type {hint!r}")  # a model type we do not know


def _decode_mapping(raw: object, key: str) -> Mapping[str, str]:
    if not isinstance(raw, dict):
        raise _FieldError(key, f"got {_describe(raw)}; expected a table of strings")
    for name, value in raw.items():
        if not isinstance(value, str):
            raise _FieldError(f"{key}.{name}", f"got {_describe(value)}; expected a string")
    return types.MappingProxyType(dict(raw))


def _decode_union(options: tuple[Any, ...], raw: object, key: str, root: Path) -> object:
    present = [o for o in options if o is not type(None)]
    if len(present) == 1:
        return _decode(present[0], raw, key, root)
    if not isinstance(raw, dict):
        raise _FieldError(key, f"got {_describe(raw)}; expected a table with `{KIND}`")
    kinds = {o.KIND: o for o in present}
    kind = raw.get(KIND)
    if kind not in kinds:
        raise _FieldError(f"{key}.{KIND}", f"got {kind!r}; allowed: {', '.join(kinds)}")
    rest = {k: v for k, v in raw.items() if k != KIND}
    return _decode_class(kinds[kind], rest, key, root)


def _decode_class(cls: type, raw: object, key: str, root: Path) -> object:
    if not isinstance(raw, dict):
        raise _FieldError(key, f"got {_describe(raw)}; expected a table")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    values: dict[str, object] = {}
    for name, value in raw.items():
        where = f"{key}.{name}" if key else name
        if name not in fields:
            close = difflib.get_close_matches(name, list(fields), n=1)
            hint = f"did you mean {close[0]}?" if close else f"allowed: {', '.join(fields)}"
            raise _FieldError(where, f"unknown key; {hint}")
        values[name] = _decode(hints[name], value, where, root)
    missing = [
        name
        for name, f in fields.items()
        if name not in values
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise _FieldError(key, f"missing {', '.join(missing)}; add it")
    try:
        return cls(**values)
    except ValueError as err:
        # The model's own checks name the field; say where in the file it is.
        message = str(err)
        raise _FieldError("" if not key or message.startswith(key) else key, message) from None


# ---- writing --------------------------------------------------------------------------


def _encode(value: object, root: Path) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _encode_class(value, root)
    if isinstance(value, tuple):
        return [_encode(v, root) for v in value]
    if isinstance(value, Mapping):
        # TOML has no null: a JSON object holding one is written as its JSON text.
        return json.dumps(dict(value), sort_keys=True) if _has_null(value) else dict(value)
    if isinstance(value, Path):
        return value.relative_to(root).as_posix() if value.is_relative_to(root) else str(value)
    return value


def _has_null(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, Mapping):
        return any(_has_null(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_has_null(v) for v in value)
    return False


def _encode_class(value: Any, root: Path) -> dict[str, object]:
    table: dict[str, object] = {}
    kind = getattr(type(value), "KIND", None)
    if kind is not None:
        table[KIND] = kind
    for f in dataclasses.fields(value):
        current = getattr(value, f.name)
        if not f.init or _is_default(value, f, current):
            continue
        if current is None:
            raise ConfigFileError(
                f"{type(value).__name__}.{f.name}: None cannot be written where the default "
                "is a value"
            )
        table[f.name] = _encode(current, root)
    return table


def _is_default(value: Any, f: dataclasses.Field[Any], current: object) -> bool:
    """Left out when equal to the default, or when the default derives the same value
    (an artifact bucket or lock file the constructor fills in)."""
    if f.default is not dataclasses.MISSING:
        default = f.default
    elif f.default_factory is not dataclasses.MISSING:
        default = f.default_factory()
    else:
        return False
    if current == default:
        return True
    try:
        return bool(dataclasses.replace(value, **{f.name: default}) == value)
    except ValueError:
        return False
