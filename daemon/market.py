"""Market data: quotes and symbol lookup, validated before anything goes upstream."""

from __future__ import annotations

import urllib.parse
from collections.abc import Sequence

from daemon.clock import Clock
from daemon.errors import ErrorCode, InvalidRequest
from daemon.etrade_json import parse_lookup, parse_quotes
from daemon.models import Product, Quote, QuoteBatch, SymbolError
from daemon.session import SessionManager
from daemon.symbols import normalize_symbols
from daemon.upstream import EtradeApiError

# E*TRADE answers at most 25 symbols per request, 50 with overrideSymbolCount=true (reference §2.2).
UPSTREAM_BATCH = 25
UPSTREAM_BATCH_OVERRIDE = 50
MAX_SYMBOLS_PER_REQUEST = 50

DETAIL_FLAGS = ("ALL", "FUNDAMENTAL", "INTRADAY", "WEEK_52")
_INVALID_SYMBOL_CODES = {1019, 1002}


class MarketData:
    """Quotes for the daemon's clients."""

    def __init__(self, session: SessionManager, clock: Clock) -> None:
        self._session = session
        self._clock = clock

    async def quotes(self, raw_symbols: Sequence[str], detail: str = "ALL") -> QuoteBatch:
        if detail not in DETAIL_FLAGS:
            raise InvalidRequest(
                ErrorCode.INVALID_ARGUMENT, f"unknown quote detail {detail!r}; use one of {', '.join(DETAIL_FLAGS)}"
            )
        symbols, errors = normalize_symbols(raw_symbols, limit=MAX_SYMBOLS_PER_REQUEST)
        quotes: list[Quote] = []
        if symbols:
            found, missing = await self._fetch(symbols, detail)
            quotes.extend(found)
            errors.extend(missing)
        return QuoteBatch(quotes=tuple(quotes), errors=tuple(errors))

    async def _fetch(self, symbols: list[str], detail: str) -> tuple[list[Quote], list[SymbolError]]:
        """One upstream request for up to 50 symbols (override above 25)."""
        params = {"detailFlag": detail}
        if len(symbols) > UPSTREAM_BATCH:
            params["overrideSymbolCount"] = "true"
        path = "/v1/market/quote/" + ",".join(urllib.parse.quote(s, safe=".-") for s in symbols)
        try:
            payload = await self._session.get_json(path, params)
        except EtradeApiError as exc:
            if exc.etrade_code in _INVALID_SYMBOL_CODES:
                # E*TRADE answers 400/1019 when none of the symbols is valid.
                return [], [
                    SymbolError(s, ErrorCode.INVALID_SYMBOL.value, f"E*TRADE does not know the symbol {s}")
                    for s in symbols
                ]
            raise
        return parse_quotes(payload, symbols, int(self._clock.now() * 1000))

    async def lookup(self, search: str) -> list[Product]:
        text = search.strip()
        if not text or len(text) > 64:
            raise InvalidRequest(
                ErrorCode.INVALID_ARGUMENT, "give a company name or symbol of 1-64 characters to look up"
            )
        path = "/v1/market/lookup/" + urllib.parse.quote(text, safe="")
        try:
            payload = await self._session.get_json(path, {})
        except EtradeApiError as exc:
            if exc.etrade_code in {10033, 10043}:
                return []
            raise
        return parse_lookup(payload)
