"""Accounts, balances, portfolios and positions."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Awaitable, Callable

from daemon.clock import Clock
from daemon.errors import ErrorCode, InvalidRequest, NotFound
from daemon.etrade_json import parse_accounts, parse_balance, parse_lots, parse_portfolio_page, summarize_totals
from daemon.market import MarketData
from daemon.models import Account, Balance, Lot, Portfolio, Position, PositionDetails
from daemon.session import SessionManager
from daemon.symbols import normalize_symbol
from daemon.upstream import EtradeApiError

_ACCOUNT_KEY = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
# E*TRADE's answers for a key that is not the user's or not a key at all (reference §2.1).
_UNKNOWN_ACCOUNT_CODES = {100, 102, 253, 7001}
PORTFOLIO_PAGE_SIZE = 50
MAX_PORTFOLIO_PAGES = 200


def check_account_key(raw: str) -> str:
    key = raw.strip() if isinstance(raw, str) else ""
    if not key:
        raise InvalidRequest(ErrorCode.INVALID_ARGUMENT, "account_id_key is empty; take one from list_accounts")
    if not _ACCOUNT_KEY.match(key):
        shown = key if len(key) <= 24 else key[:24] + "…"
        raise NotFound(ErrorCode.UNKNOWN_ACCOUNT, f"{shown!r} is not an account_id_key")
    return key


class AccountsData:
    """The user's accounts as E*TRADE reports them."""

    def __init__(self, session: SessionManager, market: MarketData, clock: Clock) -> None:
        self._session = session
        self._market = market
        self._clock = clock

    def _now_ms(self) -> int:
        return int(self._clock.now() * 1000)

    async def accounts(self, *, include_closed: bool = False) -> list[Account]:
        payload = await self._session.get_json("/v1/accounts/list", {})
        accounts = parse_accounts(payload)
        return accounts if include_closed else [a for a in accounts if a.is_open]

    async def _get_account_json(self, key: str, suffix: str, params: dict[str, str]) -> dict[str, object] | None:
        path = f"/v1/accounts/{urllib.parse.quote(key, safe='')}{suffix}"
        try:
            return await self._session.get_json(path, params)
        except EtradeApiError as exc:
            if exc.etrade_code in _UNKNOWN_ACCOUNT_CODES:
                raise NotFound(ErrorCode.UNKNOWN_ACCOUNT, f"E*TRADE does not know the account {key!r}") from None
            raise

    async def balance(self, raw_key: str) -> Balance:
        key = check_account_key(raw_key)
        payload = await self._get_account_json(key, "/balance", {"instType": "BROKERAGE", "realTimeNAV": "true"})
        return parse_balance(key, payload, self._now_ms())

    async def portfolio(
        self, raw_key: str, *, on_page: Callable[[int, int], Awaitable[None]] | None = None
    ) -> Portfolio:
        """Every position, across all of E*TRADE's pages; ``on_page(page, total_pages)`` after each."""
        key = check_account_key(raw_key)
        positions: list[Position] = []
        totals = None
        page_number = 1
        for _ in range(MAX_PORTFOLIO_PAGES):
            params = {
                "count": str(PORTFOLIO_PAGE_SIZE),
                "pageNumber": str(page_number),
                "totalsRequired": "true",
                "view": "QUICK",
            }
            page = parse_portfolio_page(await self._get_account_json(key, "/portfolio", params))
            positions.extend(page.positions)
            totals = totals or page.totals
            if on_page is not None:
                await on_page(page_number, page.total_pages)
            if page.next_page is None or page.next_page <= page_number or page_number >= page.total_pages:
                break
            page_number = page.next_page
        return Portfolio(
            account_id_key=key,
            positions=tuple(positions),
            totals=summarize_totals(tuple(positions), totals),
            fetched_at_unix_ms=self._now_ms(),
        )

    async def position(self, raw_key: str, raw_symbol: str) -> PositionDetails:
        key = check_account_key(raw_key)
        symbol = normalize_symbol(raw_symbol)
        portfolio = await self.portfolio(key)
        held = tuple(p for p in portfolio.positions if p.symbol.upper() == symbol)
        if not held:
            raise NotFound(ErrorCode.POSITION_NOT_FOUND, f"the account holds no position in {symbol}")
        lots: list[Lot] = []
        for position in held:
            payload = await self._get_account_json(key, f"/portfolio/{position.position_id}", {})
            lots.extend(parse_lots(payload, self._now_ms()))
        batch = await self._market.quotes([symbol])
        quote = batch.quotes[0] if batch.quotes else None
        return PositionDetails(account_id_key=key, positions=held, lots=tuple(lots), quote=quote)
