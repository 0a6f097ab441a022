"""The SDK's floor: a bare one-tool MCP server, started the way etrade-mcp is (python -m ...)."""

from __future__ import annotations

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


if __name__ == "__main__":
    server.run("stdio")
