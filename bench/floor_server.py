"""The SDK's floor: a bare one-tool MCP server, started the way etrade-mcp is (python -m ...).

Run as is, it is the SDK's own server on the SDK's stdio transport: the baseline of the bars.
Two variants, for the warm-path breakdown of ``bench/proxy_bars.py`` (never for a bar):

- ``--our-transport``: the same server on etrade-mcp's stdio transport (``mcp_proxy.stdio``);
- ``--grpc-hop SOCKET``: also one trivial daemon call (the gRPC health check) per tool call: what
  any server that asks a daemon over gRPC pays at least, so the floor of etrade-mcp's design.
"""

from __future__ import annotations

import argparse

from mcp.server import MCPServer
from pydantic import BaseModel

server = MCPServer("floor")


class Quote(BaseModel):
    symbol: str
    last_trade: float


@server.tool()
async def get_stock_quote(symbol: str) -> Quote:
    """A constant quote: the cost of the MCP machinery alone."""
    return Quote(symbol=symbol.upper(), last_trade=123.45)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--our-transport", action="store_true", help="serve on etrade-mcp's stdio transport")
    parser.add_argument("--grpc-hop", metavar="SOCKET", help="one daemon health check per call (implies the above)")
    args = parser.parse_args()
    if not (args.our_transport or args.grpc_hop):
        server.run("stdio")
        return

    import anyio

    from mcp_proxy.stdio import serve

    served = server
    if args.grpc_hop:
        from broker_client.client import BrokerClient

        client = BrokerClient(args.grpc_hop, client_name="bench-floor")
        served = MCPServer("floor")

        @served.tool(name="get_stock_quote")
        async def quote_after_a_hop(symbol: str) -> Quote:
            """A constant quote after one round trip to the daemon."""
            await client.health()
            return Quote(symbol=symbol.upper(), last_trade=123.45)

    anyio.run(serve, served)


if __name__ == "__main__":
    main()
