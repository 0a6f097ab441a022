"""The naive baseline: the MCP server exactly as the implementation plan designs it (§2, §4, §5.2, §7).

One process per MCP client. Each process loads the OAuth access token that the plan's one-time
``setup_oauth`` script stored (``bench.harness.naive_setup_oauth``: a 0600 JSON file here, the
keyring in the plan), builds its own rauth ``OAuth1Session``, and calls E*TRADE on every tool
call — no cache, no coalescing, no shared limiter. The plan's ``RateLimiter`` (a sliding window of
``requests_per_minute`` per process, default 60) refuses locally. The tool handlers are the plan's
§7.2 code: a blocking ``session.get`` inside the async handler, the quote reduced to a small JSON
text.

Adapted only where the SDK or rauth require it, never to slow it down: the low-level ``Server``
takes ``on_list_tools``/``on_call_tool`` handlers in mcp 2.x instead of decorators;
``session.get`` gets explicit ``params`` (rauth breaks without them on requests >= 2.34) and
``header_auth=True`` (E*TRADE's own sample signs in the header); the OAuth session is created
once and reused, so warm calls keep their HTTP connection; failures set ``isError``.

Configuration (the plan's config.py reads the environment): ``ETRADE_CONSUMER_KEY``,
``ETRADE_CONSUMER_SECRET``, ``ETRADE_BASE_URL``, ``ETRADE_TOKEN_FILE``, ``ETRADE_REQUESTS_PER_MINUTE``.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import mcp_types as types
from mcp.server import Server, ServerRequestContext
from mcp.server.stdio import stdio_server
from rauth import OAuth1Session


@dataclass
class ETradeMCPConfig:
    """server/config.py"""

    consumer_key: str
    consumer_secret: str
    base_url: str
    token_file: str
    requests_per_minute: int = 60

    @classmethod
    def from_env(cls) -> ETradeMCPConfig:
        return cls(
            consumer_key=os.environ["ETRADE_CONSUMER_KEY"],
            consumer_secret=os.environ["ETRADE_CONSUMER_SECRET"],
            base_url=os.environ["ETRADE_BASE_URL"],
            token_file=os.environ["ETRADE_TOKEN_FILE"],
            requests_per_minute=int(os.environ.get("ETRADE_REQUESTS_PER_MINUTE", "60")),
        )


class TokenStore:
    """server/auth/token_store.py"""

    def __init__(self, path: str) -> None:
        self.path = path

    def load_tokens(self) -> tuple[str, str]:
        with open(self.path, encoding="utf-8") as fh:
            data = json.load(fh)
        return data["access_token"], data["access_token_secret"]


class RateLimiter:
    """server/safety/rate_limiter.py, as written in the plan (§5.2)."""

    def __init__(self, max_requests: int, window_seconds: int) -> None:
        self.max_requests = max_requests
        self.window = timedelta(seconds=window_seconds)
        self.requests: deque[datetime] = deque()

    def allow_request(self) -> bool:
        now = datetime.now()
        while self.requests and self.requests[0] < now - self.window:
            self.requests.popleft()
        if len(self.requests) >= self.max_requests:
            return False
        self.requests.append(now)
        return True


class OAuthSessionManager:
    """server/auth/oauth_manager.py"""

    def __init__(self, config: ETradeMCPConfig) -> None:
        self.config = config
        self.store = TokenStore(config.token_file)
        self.limiter = RateLimiter(config.requests_per_minute, 60)
        self._session: Any = None

    async def get_session(self) -> Any:
        if self._session is None:
            token, secret = self.store.load_tokens()
            self._session = OAuth1Session(
                self.config.consumer_key, self.config.consumer_secret, access_token=token, access_token_secret=secret
            )
        return self._session


def _text(text: str, *, error: bool = False) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)], is_error=error)


class MarketTools:
    """server/tools/market_tools.py (§7.2)."""

    def __init__(self, session_manager: OAuthSessionManager) -> None:
        self.session_manager = session_manager

    def tool_defs(self) -> list[types.Tool]:
        symbol = {"type": "string", "description": "Stock symbol (e.g., AAPL)"}
        return [
            types.Tool(
                name="get_stock_quote",
                description="Get real-time quote for a stock symbol",
                input_schema={"type": "object", "properties": {"symbol": symbol}, "required": ["symbol"]},
            ),
            types.Tool(
                name="get_multiple_quotes",
                description="Get quotes for multiple symbols",
                input_schema={
                    "type": "object",
                    "properties": {"symbols": {"type": "array", "items": {"type": "string"}, "maxItems": 25}},
                    "required": ["symbols"],
                },
            ),
        ]

    async def _get(self, symbols: list[str]) -> tuple[int, Any]:
        if not self.session_manager.limiter.allow_request():
            return 0, None
        session = await self.session_manager.get_session()
        base_url = self.session_manager.config.base_url
        url = f"{base_url}/v1/market/quote/{','.join(symbols)}.json"
        response = session.get(url, params={}, header_auth=True)  # blocking, as in the plan
        if response.status_code != 200:
            return response.status_code, None
        return 200, response.json()

    async def get_quote(self, symbol: str) -> types.CallToolResult:
        status, data = await self._get([symbol])
        if status != 200:
            return _text(f"Error fetching quote: {status or 'local rate limit exceeded'}", error=True)
        return _text(json.dumps(self._format_quote(data), indent=2))

    async def get_multiple_quotes(self, symbols: list[str]) -> types.CallToolResult:
        status, data = await self._get(symbols)
        if status != 200:
            return _text(f"Error fetching quotes: {status or 'local rate limit exceeded'}", error=True)
        quotes = data.get("QuoteResponse", {}).get("QuoteData", [])
        return _text(json.dumps([self._format_one(q) for q in quotes], indent=2))

    def _format_quote(self, data: dict[str, Any]) -> dict[str, Any]:
        if "QuoteResponse" not in data or "QuoteData" not in data["QuoteResponse"]:
            return {"error": "Invalid quote response"}
        return self._format_one(data["QuoteResponse"]["QuoteData"][0])

    def _format_one(self, quote: dict[str, Any]) -> dict[str, Any]:
        return {
            "symbol": quote.get("Product", {}).get("symbol"),
            "last_price": quote.get("All", {}).get("lastTrade"),
            "change": quote.get("All", {}).get("changeClose"),
            "change_percent": quote.get("All", {}).get("changeClosePercentage"),
            "bid": quote.get("All", {}).get("bid"),
            "ask": quote.get("All", {}).get("ask"),
            "volume": quote.get("All", {}).get("totalVolume"),
            "timestamp": quote.get("dateTime"),
        }


async def main() -> None:
    """server/main.py (§7.1)"""
    config = ETradeMCPConfig.from_env()
    session_manager = OAuthSessionManager(config)
    market_tools = MarketTools(session_manager)

    async def list_tools(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=market_tools.tool_defs())

    async def call_tool(ctx: ServerRequestContext[Any], params: types.CallToolRequestParams) -> types.CallToolResult:
        arguments = params.arguments or {}
        if params.name == "get_stock_quote":
            return await market_tools.get_quote(arguments["symbol"])
        if params.name == "get_multiple_quotes":
            return await market_tools.get_multiple_quotes(arguments["symbols"])
        return _text(f"unknown tool {params.name}", error=True)

    server: Server[Any] = Server("etrade-mcp", on_list_tools=list_tools, on_call_tool=call_tool)
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


if __name__ == "__main__":
    asyncio.run(main())
