"""Protobuf messages → plain Python data, for JSON output (CLI) and structured content (proxy).

Import-light: protobuf is imported by the caller's messages already.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.message import Message


def message_to_dict(message: Message) -> dict[str, Any]:
    """Every field by its proto name; unset optional fields are None; int64 stays int (not str)."""
    result: dict[str, Any] = {}
    for field in message.DESCRIPTOR.fields:
        value = getattr(message, field.name)
        if field.is_repeated:
            result[field.name] = [message_to_dict(v) if isinstance(v, Message) else v for v in value]
        elif field.message_type is not None:
            result[field.name] = message_to_dict(value) if message.HasField(field.name) else None
        elif field.has_presence and not message.HasField(field.name):
            result[field.name] = None
        elif field.enum_type is not None:
            result[field.name] = field.enum_type.values_by_number[value].name
        else:
            result[field.name] = value
    return result
