"""etradectl's commands; each module registers its subcommands on the top-level parser."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

#: The largest order, journal or audit number the daemon's protocol carries (a signed 64-bit integer).
INT64_MAX = 2**63 - 1


def whole_number(low: int, high: int) -> Callable[[str], int]:
    """An argparse ``type``: a whole number from ``low`` to ``high``, refused with the range otherwise."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected a whole number from {low} to {high}, got {text}")
        return value

    return parse


def add_command(
    commands: Any, name: str, *, help: str, description: str, examples: str = "", aliases: tuple[str, ...] = ()
) -> argparse.ArgumentParser:
    """A subcommand parser with its examples in the epilog and the shared formatting."""
    parser: argparse.ArgumentParser = commands.add_parser(
        name,
        help=help,
        description=description,
        epilog=f"examples:\n{examples}" if examples else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        aliases=list(aliases),
    )
    return parser
