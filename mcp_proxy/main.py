"""``etrade-mcp``: the stdio MCP server that Claude Desktop (or any MCP client) launches.

stdout carries the MCP protocol and nothing else; logs go to stderr.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys

EPILOG = """The proxy needs a running etrade-daemon; it connects to its socket
($XDG_RUNTIME_DIR/etrade-mcp/broker.sock, or /run/user/$UID/etrade-mcp/broker.sock when
XDG_RUNTIME_DIR is unset, unless --socket or ETRADE_MCP_SOCKET says otherwise). MCP clients
often start servers with a stripped environment: name the socket in the configuration's "env".
Print a ready-made client configuration with `etradectl mcp config`.

example (Claude Desktop, claude_desktop_config.json):
  {"mcpServers": {"etrade": {"command": "/path/to/venv/bin/etrade-mcp",
    "env": {"ETRADE_MCP_SOCKET": "/run/user/1000/etrade-mcp/broker.sock"}}}}
"""


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    # Until the server's own handlers take over (mcp_proxy.stdio.serve), a signal during start-up
    # (the imports take a few hundred ms) ends the process quietly instead of with a traceback.
    signal.signal(signal.SIGINT, _exit_on_signal)
    signal.signal(signal.SIGTERM, _exit_on_signal)
    parser = argparse.ArgumentParser(
        prog="etrade-mcp",
        description="MCP server (stdio) for an E*TRADE account, served by etrade-daemon.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--socket", help="the daemon's unix socket")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log more to stderr (-v info, -vv debug)")
    args = parser.parse_args(argv)

    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(stream=sys.stderr, level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # gRPC's C core logs to stderr; keep it to real errors.
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

    import anyio

    from mcp_proxy.server import DaemonLink, build_server
    from mcp_proxy.stdio import serve

    server = build_server(DaemonLink(args.socket))
    return anyio.run(serve, server)


if __name__ == "__main__":
    raise SystemExit(main())
