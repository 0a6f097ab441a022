"""Serialize E*TRADE-shaped dicts as XML, E*TRADE's default response format.

The same dict renders as JSON (``{"Root": {...}}``) or XML (``<Root>...</Root>``). Lists become
repeated sibling elements named after their key, as in E*TRADE's XML
(``<Accounts><Account>…</Account><Account>…</Account></Accounts>``); None values are omitted;
booleans are ``true``/``false``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from xml.sax.saxutils import escape

XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'


def scalar_text(value: object) -> str:
    """How a scalar appears as element text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _element(name: str, value: object, out: list[str]) -> None:
    if value is None:
        return
    if isinstance(value, Mapping):
        children: list[str] = []
        for key, child in value.items():
            _element(str(key), child, children)
        out.append(f"<{name}>{''.join(children)}</{name}>" if children else f"<{name}/>")
    elif isinstance(value, Sequence) and not isinstance(value, str | bytes):
        for item in value:
            _element(name, item, out)
    else:
        out.append(f"<{name}>{escape(scalar_text(value))}</{name}>")


def to_xml(root: str, content: Mapping[str, object]) -> str:
    """The XML document ``<root>…</root>`` for ``content``, with a declaration."""
    out: list[str] = []
    _element(root, content, out)
    return XML_DECLARATION + "".join(out)
