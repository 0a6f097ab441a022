"""``etradectl mcp config``: the MCP client configuration for this installation, printed or merged."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from typing import TYPE_CHECKING, Any

from cli import exit_codes
from cli.commands import add_command

if TYPE_CHECKING:
    from cli.main import Context


def register(commands: Any) -> None:
    mcp = add_command(
        commands,
        "mcp",
        help="connect an MCP client (Claude Desktop, Claude Code, Cursor) to etrade-mcp",
        description="Print or install the MCP client configuration that starts this installation's etrade-mcp.",
        examples="  etradectl mcp config                                 print it for Claude Desktop\n"
        "  etradectl mcp config --client claude-desktop --write  merge it into Claude Desktop's file",
    )
    sub = mcp.add_subparsers(title="mcp commands", metavar="COMMAND")
    config = add_command(
        sub,
        "config",
        help="print (or --write) the client configuration for etrade-mcp",
        description="The entry names etrade-mcp by absolute path and sets ETRADE_MCP_SOCKET to the daemon's\n"
        "socket. Without --write it is printed (stdout) with the file it belongs in (stderr).\n"
        "With --write it is merged into that file: other servers and settings are kept, a\n"
        "timestamped backup (FILE.bak-YYYYMMDD-HHMMSS) is written first, and a file that is not\n"
        "valid JSON is refused untouched. Running it again changes nothing.\n\n"
        "files:\n"
        "  claude-desktop  macOS ~/Library/Application Support/Claude/claude_desktop_config.json\n"
        "                  Linux $XDG_CONFIG_HOME/Claude/claude_desktop_config.json (community builds)\n"
        "  claude-code     ~/.claude.json (user scope: available in every project)\n"
        "  cursor          ~/.cursor/mcp.json (global)",
        examples="  etradectl mcp config\n"
        "  etradectl mcp config --client cursor --write\n"
        "  etradectl mcp config --client claude-code --name etrade-paper\n"
        "  etradectl --json mcp config --client claude-code",
    )
    config.add_argument(
        "--client",
        choices=["claude-desktop", "claude-code", "cursor"],
        default="claude-desktop",
        help="which client (default: claude-desktop)",
    )
    config.add_argument("--name", default="etrade", help="the server's name in the client (default: etrade)")
    config.add_argument("--write", action="store_true", help="merge the entry into the client's config file")
    config.set_defaults(handler=run_config)
    mcp.set_defaults(handler=lambda ctx, args: _help(mcp))


async def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return exit_codes.USAGE


async def run_config(ctx: Context, args: argparse.Namespace) -> int:
    from broker_client import paths
    from cli.installation import PROXY, find_executable
    from cli.mcp_clients import client_info, merge_server, server_entry

    if not args.name.strip() or any(c.isspace() for c in args.name):
        ctx.out.error(f"--name must be one word, got {args.name!r}")
        return exit_codes.USAGE
    info = client_info(args.client)
    # The socket this user's clients would use, a protected daemon's included.
    socket = paths.client_socket_path(ctx.socket).absolute()
    entry = server_entry(find_executable(PROXY), socket, args.client)
    snippet = {"mcpServers": {args.name: entry}}
    document: dict[str, Any] = {
        "client": args.client,
        "path": str(info.config_path),
        "server_name": args.name,
        "entry": entry,
        "written": False,
    }
    if not args.write:
        if ctx.out.json_mode:
            ctx.out.json(document)
            return exit_codes.OK
        ctx.out.line(json.dumps(snippet, indent=2))
        ctx.out.info(f"\n{info.title} reads {info.config_path}.")
        ctx.out.info(
            f"Merge the above into it, or let etradectl do it: etradectl mcp config --client {args.client} --write"
        )
        if args.client == "claude-code":
            ctx.out.info(f"(or: claude mcp add-json --scope user {args.name} {shlex.quote(json.dumps(entry))})")
        return exit_codes.OK

    result = merge_server(info.config_path, args.name, entry)
    document.update(
        written=result.changed,
        changed=result.changed,
        created=result.created,
        backup=str(result.backup) if result.backup else None,
    )
    if ctx.out.json_mode:
        ctx.out.json(document)
        return exit_codes.OK
    if not result.changed:
        ctx.out.line(f"{info.config_path} already starts etrade-mcp as {args.name!r}; nothing changed")
        return exit_codes.OK
    if result.created:
        ctx.out.line(f"created {info.config_path} with the {args.name!r} server")
    else:
        verb = "replaced" if result.replaced is not None else "added"
        ctx.out.line(f"{verb} the {args.name!r} server in {info.config_path} (other servers untouched)")
        ctx.out.line(f"backup of the previous file: {result.backup}")
    ctx.out.info(f"\nnext: {info.restart}; then ask it for a quote. Its logs: {info.logs}")
    return exit_codes.OK
