"""``etradectl config show|reference``: the daemon's settings as this environment would load them."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from cli import exit_codes
from cli.commands import add_command

if TYPE_CHECKING:
    from cli.main import Context


def register(commands: Any) -> None:
    config = add_command(
        commands,
        "config",
        help="show the daemon's settings and where each comes from",
        description="Settings are read by etrade-daemon at start-up: flags > ETRADE_* environment variables >\n"
        "the TOML file ($XDG_CONFIG_HOME/etrade-mcp/config.toml, or ETRADE_MCP_CONFIG) > defaults.\n"
        "A daemon started by systemd or launchd does not see your shell's variables.",
        examples="  etradectl config show\n  etradectl --json config show\n  etradectl config reference",
    )
    sub = config.add_subparsers(title="config commands", metavar="COMMAND")
    show = add_command(
        sub,
        "show",
        help="the effective settings from this environment and the config file (secrets hidden)",
        description="Load the settings the way etrade-daemon would from this shell (its environment and the\n"
        "config file) and print each value with its source. Exit status 5 if the file is invalid.",
        examples="  etradectl config show\n  ETRADE_READ_ONLY=false etradectl config show",
    )
    show.set_defaults(handler=run_show)
    reference = add_command(
        sub,
        "reference",
        help="every setting with its environment variable, default and meaning (Markdown)",
        description="The configuration reference, generated from the code (it is docs/configuration.md's table).",
        examples="  etradectl config reference",
    )
    reference.set_defaults(handler=run_reference)
    config.set_defaults(handler=lambda ctx, args: _help(config))


async def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return exit_codes.USAGE


async def run_show(ctx: Context, args: argparse.Namespace) -> int:
    import dataclasses
    import os
    import tomllib

    from broker_client import paths
    from daemon.settings import load_settings

    path = paths.config_file()
    settings = load_settings()  # a SettingsError is exit 5 with the setting named
    in_file = tomllib.loads(path.read_text("utf-8")) if path.exists() else {}
    rows = []
    view = settings.public_view()
    for f in dataclasses.fields(settings):
        env = f.metadata.get("env")
        if env and os.environ.get(env, "") != "":
            source = f"environment {env}"
        elif f.name in in_file or (f.name == "notification_channels" and "notifications" in in_file):
            source = "config file"
        else:
            source = "default"
        rows.append({"setting": f.name, "value": view[f.name], "source": source})
    if ctx.out.json_mode:
        ctx.out.json({"config_file": str(path), "exists": path.exists(), "settings": rows})
        return exit_codes.OK
    ctx.out.info(f"config file: {path}{'' if path.exists() else ' (absent)'}")
    ctx.out.table(["SETTING", "VALUE", "SOURCE"], [[r["setting"], r["value"] or "-", r["source"]] for r in rows])
    return exit_codes.OK


async def run_reference(ctx: Context, args: argparse.Namespace) -> int:
    from cli.config_reference import markdown_table

    ctx.out.line(markdown_table().rstrip("\n"))
    return exit_codes.OK
