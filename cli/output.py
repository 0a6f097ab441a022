"""Rendering for etradectl: tables and key/value blocks for humans, one JSON document for scripts.

Data goes to stdout; messages, warnings and errors go to stderr. Colour only on a terminal and
never when NO_COLOR is set; nothing depends on colour alone.
"""

from __future__ import annotations

import json
import os
import re
import sys
import unicodedata
from collections.abc import Sequence
from typing import Any, TextIO

# C0 controls but newline and tab, DEL, and the C1 controls (0x9b is a one-byte CSI on some terminals).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_CONTROL_IN_CELL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
#: Beyond ASCII, what can hide, overlay or reorder text without being seen itself: controls (Cc),
#: format characters (Cf: bidi overrides and isolates, zero-width joiners, the BOM), line and
#: paragraph separators (Zl, Zp), spaces other than the ASCII one (Zs), combining marks (Mn, Me:
#: U+0338 turns "=" into "≠"), and private, unassigned or surrogate code points.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Zs", "Mn", "Me", "Co", "Cn", "Cs"})
#: Letters and symbols that render as nothing (Unicode's Default_Ignorable_Code_Point fillers, the
#: braille blank) although their category says they are visible.
_BLANK_LOOKING = frozenset({0x115F, 0x1160, 0x17B4, 0x17B5, 0x2800, 0x3164, 0xFFA0})


def _shown(char: str) -> str:
    point = ord(char)
    if point < 0x100:
        return f"\\x{point:02x}"
    return f"\\u{point:04x}" if point < 0x10000 else f"\\U{point:08x}"


def _hidden(char: str) -> bool:
    return ord(char) in _BLANK_LOOKING or unicodedata.category(char) in _HIDDEN_CATEGORIES


def printable(text: str, *, cell: bool = False) -> str:
    """``text`` with every character that could hide, overlay or reorder what is shown as an escape.

    What etradectl prints can come from the model (a refused symbol or account key in the audit
    log) or from E*TRADE. An escape sequence in it must not move the cursor, erase lines or retitle
    the window, and a right-to-left override, a combining mark or a blank-looking letter must not
    reorder, alter or hide what the operator reads: ESC becomes ``\\x1b``, U+202E ``\\u202e``. Table
    cells and key/value pairs lose newlines and tabs as well. Combining marks are escaped even where
    they would only accent a letter: normalising first would let ``=`` + U+0338 become a real ``≠``.
    Precomposed letters (é, ü, CJK, emoji) are printed as they are.
    """
    pattern = _CONTROL_IN_CELL if cell else _CONTROL
    escaped = pattern.sub(lambda m: _shown(m.group(0)), text)
    if escaped.isascii():
        return escaped
    return "".join(_shown(ch) if ord(ch) > 0x7F and _hidden(ch) else ch for ch in escaped)


def use_color(stream: TextIO) -> bool:
    return "NO_COLOR" not in os.environ and hasattr(stream, "isatty") and stream.isatty()


class Output:
    def __init__(self, *, json_mode: bool, stdout: TextIO | None = None, stderr: TextIO | None = None) -> None:
        self.json_mode = json_mode
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self._color_err = use_color(self.stderr)
        self._color_out = use_color(self.stdout)

    def _paint(self, text: str, code: str, *, err: bool) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if (self._color_err if err else self._color_out) else text

    def paint(self, text: str, code: str, *, err: bool = False) -> str:
        """``text`` in the SGR colour ``code`` when that stream shows colour (a terminal, no NO_COLOR)."""
        return self._paint(text, code, err=err)

    # data (stdout) -----------------------------------------------------------------------

    def json(self, document: Any) -> None:
        # ensure_ascii: every non-ASCII character (a bidi override included) travels as a \\uXXXX
        # escape, so the document shows nothing a terminal could act on and keeps the exact text.
        self.stdout.write(json.dumps(document, indent=2, sort_keys=False, ensure_ascii=True) + "\n")

    def line(self, text: str = "") -> None:
        self.stdout.write(printable(text) + "\n")

    def marked_line(self, mark: str, color: str, text: str) -> None:
        """A line led by ``mark`` in ``color`` (on a terminal); the rest is printed as ``line`` would."""
        self.stdout.write(self._paint(printable(mark), color, err=False) + printable(text) + "\n")

    def heading(self, text: str) -> None:
        self.stdout.write(self._paint(printable(text), "1", err=False) + "\n")

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[str]], *, right: Sequence[int] = ()) -> None:
        rows = [[printable(cell, cell=True) for cell in row] for row in rows]
        widths = [len(h) for h in headers]
        for row in rows:
            for i, cell in enumerate(row):
                widths[i] = max(widths[i], len(cell))

        def fmt(cells: Sequence[str]) -> str:
            parts = [c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(cells)]
            return "  ".join(parts).rstrip()

        self.stdout.write(self._paint(fmt(headers), "1", err=False) + "\n")
        for row in rows:
            self.stdout.write(fmt(row) + "\n")  # cells are escaped above

    def pairs(self, items: Sequence[tuple[str, str]], *, err: bool = False) -> None:
        """``key: value`` lines, aligned; on stderr with ``err`` (e.g. beside a JSON document on stdout)."""
        width = max((len(k) for k, _ in items), default=0)
        stream = self.stderr if err else self.stdout
        for key, value in items:
            stream.write(f"{printable(key + ':', cell=True):<{width + 1}} {printable(value, cell=True)}\n")

    # messages (stderr) -------------------------------------------------------------------

    def info(self, text: str) -> None:
        self.stderr.write(printable(text) + "\n")

    def warn(self, text: str) -> None:
        self.stderr.write(f"{self._paint('warning', '33', err=True)}: {printable(text)}\n")

    def error(self, message: str, hint: str | None = None) -> None:
        self.stderr.write(f"{self._paint('error', '31;1', err=True)}: {printable(message)}\n")
        if hint:
            self.stderr.write(f"\n{self._paint('hint', '36', err=True)}: {printable(hint)}\n")


def money(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


def number(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "-"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.{digits}f}"


def signed(value: float | None, suffix: str = "") -> str:
    return "-" if value is None else f"{value:+,.2f}{suffix}"
