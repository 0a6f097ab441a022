"""Protobuf messages → plain Python data, for JSON output (CLI) and structured content (proxy).

Import-light: protobuf is imported by the caller's messages already.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.message import Message

# How each field is read, decided once per message type rather than on every message (the proxy
# converts a message on every tool call).
_REPEATED, _MESSAGE, _OPTIONAL, _OPTIONAL_ENUM, _ENUM, _PLAIN = range(6)
_Plan = tuple[tuple[str, int, dict[int, str] | None], ...]
_plans: dict[str, _Plan] = {}


def _plan(descriptor: Any) -> _Plan:  # a Descriptor (pure-Python or upb: two types to mypy)
    plan = _plans.get(descriptor.full_name)
    if plan is None:
        steps: list[tuple[str, int, dict[int, str] | None]] = []
        for field in descriptor.fields:
            names = {v.number: v.name for v in field.enum_type.values} if field.enum_type is not None else None
            if field.is_repeated:
                steps.append((field.name, _REPEATED, None))
            elif field.message_type is not None:
                steps.append((field.name, _MESSAGE, None))
            elif field.has_presence:
                steps.append((field.name, _OPTIONAL_ENUM if names is not None else _OPTIONAL, names))
            elif names is not None:
                steps.append((field.name, _ENUM, names))
            else:
                steps.append((field.name, _PLAIN, None))
        plan = _plans[descriptor.full_name] = tuple(steps)
    return plan


def message_to_dict(message: Message) -> dict[str, Any]:
    """Every field by its proto name; unset optional fields are None; int64 stays int (not str)."""
    result: dict[str, Any] = {}
    for name, kind, names in _plan(message.DESCRIPTOR):
        if kind == _PLAIN:
            result[name] = getattr(message, name)
        elif kind == _REPEATED:
            result[name] = [message_to_dict(v) if isinstance(v, Message) else v for v in getattr(message, name)]
        elif kind == _MESSAGE:
            result[name] = message_to_dict(getattr(message, name)) if message.HasField(name) else None
        elif not (kind == _ENUM or message.HasField(name)):
            result[name] = None  # an optional field that is not set
        elif names is not None:
            result[name] = names[getattr(message, name)]
        else:
            result[name] = getattr(message, name)
    return result
