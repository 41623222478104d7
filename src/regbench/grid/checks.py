"""Strict configuration: a TOML table checked against a dataclass or a type annotation, every
problem raised through `fail(key, problem)` as one line naming the key and the allowed values."""

from __future__ import annotations

import math
import types
import typing
from dataclasses import MISSING, fields
from typing import Any, Literal

from regbench.train.techniques import ParamError


def check_keys(data: dict, allowed: tuple[str, ...], where: str, fail) -> None:
    for key in data:
        if key not in allowed:
            full = f"{where}.{key}" if where else key
            raise fail(full, f"unknown key; allowed: {', '.join(sorted(allowed))}")


def table(value: Any, where: str, fail) -> dict:
    if not isinstance(value, dict):
        raise fail(where, f"must be a table, got {type(value).__name__}")
    return value


def names(value: Any, where: str, known: list[str], fail, problem: str = "") -> tuple[str, ...]:
    """A list of registered names, each checked against `known` ("unknown name 'x'", or "'x' <problem>")."""
    items = typed(value if isinstance(value, list) else [value], tuple[str, ...], where, fail)
    for item in items:
        if item not in known:
            said = f"{item!r} {problem}" if problem else f"unknown name '{item}'"
            raise fail(where, f"{said}; allowed: {', '.join(known)}")
    return items


def typed(value: Any, kind: Any, where: str, fail) -> Any:
    """`value` checked against a type annotation: int, float, bool, str, Literal, tuple[X, ...]."""
    origin = typing.get_origin(kind)
    if origin is Literal:
        if value not in typing.get_args(kind):
            raise fail(where, f"{value!r} is not allowed; allowed: {', '.join(map(str, typing.get_args(kind)))}")
        return value
    if origin is tuple:
        if not isinstance(value, list):
            raise fail(where, f"must be a list, got {type(value).__name__}")
        return tuple(typed(v, typing.get_args(kind)[0], where, fail) for v in value)
    if origin in (typing.Union, types.UnionType):  # X | None: only X can be written in TOML
        kind = next(a for a in typing.get_args(kind) if a is not type(None))
        return typed(value, kind, where, fail)
    ok = {
        bool: isinstance(value, bool),
        int: isinstance(value, int) and not isinstance(value, bool),
        float: isinstance(value, (int, float)) and not isinstance(value, bool),
        str: isinstance(value, str),
    }[kind]
    if not ok:
        raise fail(where, f"{value!r} has the wrong type; allowed: {kind.__name__}")
    if kind is float and not math.isfinite(value):  # TOML's nan and inf, anywhere a float is read
        raise fail(where, f"{value!r} is not allowed; allowed: a finite number")
    return float(value) if kind is float else value


def make_dataclass(cls: type, data: dict, where: str, fail) -> Any:
    """An instance of dataclass `cls` from a TOML table: unknown keys, types and ranges checked."""
    hints = typing.get_type_hints(cls)
    params = [f for f in fields(cls) if f.init]
    check_keys(data, tuple(f.name for f in params), where, fail)
    values = {}
    for f in params:
        if f.name in data:
            values[f.name] = typed(data[f.name], hints[f.name], f"{where}.{f.name}", fail)
        elif f.default is MISSING and f.default_factory is MISSING:
            raise fail(f"{where}.{f.name}", "missing")
    obj = cls(**values)
    try:
        if hasattr(obj, "check"):
            obj.check()
    except ParamError as exc:
        value = getattr(obj, exc.key)
        raise fail(f"{where}.{exc.key}", f"{value!r} is out of range; allowed: {exc.allowed}") from None
    return obj
