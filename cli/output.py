"""Rendering for etradectl: tables and key/value blocks for humans, one JSON document for scripts.

Data goes to stdout; messages, warnings and errors go to stderr. Colour only on a terminal and
never when NO_COLOR is set; nothing depends on colour alone.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from typing import Any, TextIO


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
        self.stdout.write(json.dumps(document, indent=2, sort_keys=False) + "\n")

    def line(self, text: str = "") -> None:
        self.stdout.write(text + "\n")

    def heading(self, text: str) -> None:
        self.line(self._paint(text, "1", err=False))

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[str]], *, right: Sequence[int] = ()) -> None:
        widths = [len(h) for h in headers]
        for row in rows:
            for i, cell in enumerate(row):
                widths[i] = max(widths[i], len(cell))

        def fmt(cells: Sequence[str]) -> str:
            parts = [c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(cells)]
            return "  ".join(parts).rstrip()

        self.line(self._paint(fmt(headers), "1", err=False))
        for row in rows:
            self.line(fmt(row))

    def pairs(self, items: Sequence[tuple[str, str]]) -> None:
        width = max((len(k) for k, _ in items), default=0)
        for key, value in items:
            self.line(f"{key + ':':<{width + 1}} {value}")

    # messages (stderr) -------------------------------------------------------------------

    def info(self, text: str) -> None:
        self.stderr.write(text + "\n")

    def warn(self, text: str) -> None:
        self.stderr.write(f"{self._paint('warning', '33', err=True)}: {text}\n")

    def error(self, message: str, hint: str | None = None) -> None:
        self.stderr.write(f"{self._paint('error', '31;1', err=True)}: {message}\n")
        if hint:
            self.stderr.write(f"\n{self._paint('hint', '36', err=True)}: {hint}\n")


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
