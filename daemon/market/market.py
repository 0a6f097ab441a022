"""Market data: quotes and symbol lookup, validated before anything goes upstream.

Quotes are served through the daemon's :class:`~daemon.market.quote_cache.QuoteCache` (cached, coalesced,
batched); every E*TRADE request goes through the :class:`~daemon.gateway.gateway.EtradeGateway` under the
``market`` rate limit.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Sequence

from broker_client.errors import ErrorCode, InvalidRequest
from broker_client.symbols import SymbolError, normalize_symbols
from daemon.clock import Clock
from daemon.etrade.etrade_json import parse_lookup, parse_quotes
from daemon.etrade.upstream import EtradeApiError
from daemon.gateway.deadline import REAL_TIME, Deadline, TimeSource
from daemon.gateway.gateway import EtradeGateway
from daemon.market.quote_cache import QuoteCache, QuoteTtl
from daemon.models import Product, Quote, QuoteBatch

# E*TRADE answers at most 25 symbols per request, 50 with overrideSymbolCount=true (reference §2.2).
UPSTREAM_BATCH = 25
UPSTREAM_BATCH_OVERRIDE = 50
MAX_SYMBOLS_PER_REQUEST = 50

DETAIL_FLAGS = ("ALL", "FUNDAMENTAL", "INTRADAY", "WEEK_52")
_INVALID_SYMBOL_CODES = {1019, 1002}


class MarketData:
    """Quotes for the daemon's clients."""

    def __init__(
        self,
        gateway: EtradeGateway,
        clock: Clock,
        *,
        ttl: QuoteTtl,
        override_symbol_count: bool = True,
        gather_seconds: float = 0.003,
        refresh_ahead: bool = True,
        time_source: TimeSource = REAL_TIME,
    ) -> None:
        self._gateway = gateway
        self._clock = clock
        self.cache = QuoteCache(
            self._fetch,
            self._reserve,
            lambda: gateway.limiter.estimated_wait("market"),
            clock,
            ttl,
            batch_size=UPSTREAM_BATCH_OVERRIDE if override_symbol_count else UPSTREAM_BATCH,
            gather_seconds=gather_seconds,
            refresh_ahead=refresh_ahead,
            time_source=time_source,
        )
        gateway.on_new_session(self.cache.clear)

    async def quotes(
        self, raw_symbols: Sequence[str], detail: str = "ALL", *, deadline: Deadline | None = None
    ) -> QuoteBatch:
        """Quotes for 1-50 symbols; malformed and unknown symbols are reported one by one."""
        if detail not in DETAIL_FLAGS:
            raise InvalidRequest(
                ErrorCode.INVALID_ARGUMENT, f"unknown quote detail {detail!r}; use one of {', '.join(DETAIL_FLAGS)}"
            )
        symbols, errors = normalize_symbols(raw_symbols, limit=MAX_SYMBOLS_PER_REQUEST)
        if not symbols:
            return QuoteBatch(quotes=(), errors=tuple(errors))
        await self._gateway.require_session()
        found, missing = await self.cache.get(symbols, detail, deadline or Deadline.after(None))
        return QuoteBatch(quotes=tuple(found), errors=(*errors, *missing))

    async def fresh_quote(self, symbol: str, deadline: Deadline) -> Quote:
        """One symbol's quote straight from E*TRADE, never from the cache (an order about to be sent is
        judged against the market as it is now); through the ``market`` rate limit like every request."""
        await self._gateway.reserve("market", deadline)
        quotes, missing = await self._fetch([symbol], "ALL", deadline)
        if not quotes:
            problem = missing[0].message if missing else f"E*TRADE has no quote for {symbol}"
            raise InvalidRequest(ErrorCode.INVALID_SYMBOL, problem)
        return quotes[0]

    async def _reserve(self, deadline: Deadline) -> None:
        await self._gateway.reserve("market", deadline)

    async def _fetch(
        self, symbols: list[str], detail: str, deadline: Deadline
    ) -> tuple[list[Quote], list[SymbolError]]:
        """One upstream request for up to 50 symbols (override above 25); the slot is reserved."""
        params = {"detailFlag": detail}
        if len(symbols) > UPSTREAM_BATCH:
            params["overrideSymbolCount"] = "true"
        path = "/v1/market/quote/" + ",".join(urllib.parse.quote(s, safe=".-") for s in symbols)
        try:
            payload = await self._gateway.get_json("market", path, params, deadline, reserved=True)
        except EtradeApiError as exc:
            if exc.etrade_code in _INVALID_SYMBOL_CODES:
                # E*TRADE answers 400/1019 when none of the symbols is valid.
                return [], [
                    SymbolError(s, ErrorCode.INVALID_SYMBOL.value, f"E*TRADE does not know the symbol {s}")
                    for s in symbols
                ]
            raise
        return parse_quotes(payload, symbols, int(self._clock.now() * 1000))

    async def lookup(self, search: str, *, deadline: Deadline | None = None) -> list[Product]:
        text = search.strip()
        if not text or len(text) > 64:
            raise InvalidRequest(
                ErrorCode.INVALID_ARGUMENT, "give a company name or symbol of 1-64 characters to look up"
            )
        path = "/v1/market/lookup/" + urllib.parse.quote(text, safe="")
        try:
            payload = await self._gateway.get_json("market", path, {}, deadline or Deadline.after(None))
        except EtradeApiError as exc:
            if exc.etrade_code in {10033, 10043}:
                return []
            raise
        return parse_lookup(payload)
