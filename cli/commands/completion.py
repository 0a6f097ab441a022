"""``etradectl completion bash|zsh|tcsh``: a shell completion script, generated from the parser."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from cli import exit_codes
from cli.commands import add_command

if TYPE_CHECKING:
    from cli.main import Context

SHELLS = ("bash", "zsh", "tcsh")


def register(commands: Any) -> None:
    parser = add_command(
        commands,
        "completion",
        help="print a shell completion script (bash, zsh or tcsh)",
        description="Print a completion script for every etradectl command and option. Install it once:",
        examples="  etradectl completion bash > ~/.local/share/bash-completion/completions/etradectl\n"
        "  etradectl completion zsh > ~/.zfunc/_etradectl     (with fpath+=(~/.zfunc) before compinit)\n"
        "  etradectl completion tcsh > ~/.etradectl.completion.csh   (then: source it from ~/.tcshrc)",
    )
    parser.add_argument("shell", choices=SHELLS)
    parser.set_defaults(handler=run)


async def run(ctx: Context, args: argparse.Namespace) -> int:
    import shtab

    from cli.main import build_parser

    script: str = shtab.complete(build_parser(), shell=args.shell)
    ctx.out.line(script.rstrip("\n"))
    return exit_codes.OK
