"""What every converter shares: the mechanical dataclass → message copy and time fields."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from google.protobuf.message import Message

M = TypeVar("M", bound=Message)


def _shared_fields(cls: type[Message], kind: type) -> tuple[str, ...]:
    """The field names a dataclass type and a message type have in common (memoized: hot path)."""
    key = (cls, kind)
    names = _SHARED_FIELDS.get(key)
    if names is None:
        declared = cls.DESCRIPTOR.fields_by_name
        names = tuple(f.name for f in dataclasses.fields(kind) if f.name in declared)
        _SHARED_FIELDS[key] = names
    return names


_SHARED_FIELDS: dict[tuple[type[Message], type], tuple[str, ...]] = {}


def to_message(cls: type[M], obj: Any, **overrides: Any) -> M:
    """Copy the scalar fields of a dataclass that the message declares; None leaves a field unset."""
    values = {}
    for name in _shared_fields(cls, type(obj)):
        if name in overrides:
            continue
        value = getattr(obj, name)
        if value is None or isinstance(value, tuple) or dataclasses.is_dataclass(value):
            continue
        values[name] = value
    values.update(overrides)
    return cls(**values)


def ms(seconds: float | None) -> int:
    """Epoch seconds as the wire's milliseconds; 0 for unknown."""
    return 0 if seconds is None else int(seconds * 1000)
