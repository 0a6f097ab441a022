"""etradectl's commands; each module registers its subcommands on the top-level parser."""

from __future__ import annotations

import argparse
from typing import Any


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
