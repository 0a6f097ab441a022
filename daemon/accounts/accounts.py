"""Accounts, balances, portfolios and positions.

The accounts list, balances and portfolios are kept briefly (:class:`~daemon.market.ttl_cache.TtlCache`)
because several clients tend to ask for the same ones at once. The daemon's order code must call
:meth:`AccountsData.invalidate_after_order_activity` after anything that can move cash or
positions, so that no client sees a balance or portfolio from before its own order.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Awaitable, Callable

from broker_client.errors import ErrorCode, InvalidRequest, NotFound
from broker_client.symbols import normalize_symbol
from daemon.clock import Clock
from daemon.etrade.etrade_json import parse_accounts, parse_balance, parse_lots, parse_portfolio_page, summarize_totals
from daemon.etrade.upstream import EtradeApiError
from daemon.gateway.deadline import Deadline
from daemon.gateway.gateway import EtradeGateway
from daemon.market.market import MarketData
from daemon.market.ttl_cache import CacheStats, TtlCache
from daemon.models import Account, Balance, Lot, Portfolio, Position, PositionDetails

_ACCOUNT_KEY = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
# E*TRADE's answers for a key that is not the user's or not a key at all (reference §2.1).
_UNKNOWN_ACCOUNT_CODES = {100, 102, 253, 7001}


async def get_account_json(
    gateway: EtradeGateway, key: str, suffix: str, params: dict[str, str], deadline: Deadline
) -> dict[str, object] | None:
    """GET ``/v1/accounts/{key}{suffix}`` (the Accounts module's limits); an account E*TRADE does not
    know becomes UNKNOWN_ACCOUNT."""
    path = f"/v1/accounts/{urllib.parse.quote(key, safe='')}{suffix}"
    try:
        return await gateway.get_json("accounts", path, params, deadline)
    except EtradeApiError as exc:
        # Code 100 with HTTP 500 is E*TRADE's "service not available", not an unknown account.
        if exc.etrade_code in _UNKNOWN_ACCOUNT_CODES and exc.http_status < 500:
            raise NotFound(ErrorCode.UNKNOWN_ACCOUNT, f"E*TRADE does not know the account {key!r}") from None
        raise


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

    def __init__(
        self,
        gateway: EtradeGateway,
        market: MarketData,
        clock: Clock,
        *,
        ttl: float = 10.0,
        list_ttl: float = 60.0,
    ) -> None:
        self._gateway = gateway
        self._market = market
        self._clock = clock
        self._accounts: TtlCache[str, list[Account]] = TtlCache("accounts", clock, list_ttl)
        self._balances: TtlCache[str, Balance] = TtlCache("balances", clock, ttl)
        self._portfolios: TtlCache[str, Portfolio] = TtlCache("portfolios", clock, ttl)
        self._dependents: list[Callable[[str | None], None]] = []
        self.ttl = ttl
        gateway.on_new_session(self._forget_everything)

    def add_dependent(self, invalidate: Callable[[str | None], None]) -> None:
        """Have another per-account cache (e.g. transactions) forgotten together with these:
        ``invalidate(account_id_key)`` after order activity, ``invalidate(None)`` for all."""
        self._dependents.append(invalidate)

    def _now_ms(self) -> int:
        return int(self._clock.now() * 1000)

    # invalidation ------------------------------------------------------------------------

    def invalidate_after_order_activity(self, account_id_key: str | None = None) -> None:
        """Forget cached balances and portfolios: of ``account_id_key``, or of every account.

        The order code calls this after placing, changing or cancelling an order, after a fill
        it learns about, and after any order request whose outcome is unknown — whatever can
        move cash or positions. The next read goes to E*TRADE.
        """
        if account_id_key is None:
            self._balances.invalidate()
            self._portfolios.invalidate()
        else:
            key = account_id_key.strip()
            self._balances.invalidate(lambda k: k == key)
            self._portfolios.invalidate(lambda k: k == key)
        for invalidate in self._dependents:
            invalidate(account_id_key.strip() if account_id_key is not None else None)

    def _forget_everything(self) -> None:
        for cache in (self._accounts, self._balances, self._portfolios):
            cache.invalidate()
        for invalidate in self._dependents:
            invalidate(None)

    def cache_stats(self) -> list[CacheStats]:
        return [self._accounts.stats(), self._balances.stats(), self._portfolios.stats()]

    # reads -------------------------------------------------------------------------------

    async def accounts(
        self, *, include_closed: bool = False, fresh: bool = False, deadline: Deadline | None = None
    ) -> list[Account]:
        """The user's accounts; ``fresh`` asks E*TRADE even when a cached list is still valid."""
        deadline = deadline or Deadline.after(None)

        async def load() -> list[Account]:
            return parse_accounts(await self._gateway.get_json("accounts", "/v1/accounts/list", {}, deadline))

        await self._gateway.require_session()
        if fresh:
            self._accounts.invalidate(lambda key: key == "list")
        accounts = await self._accounts.get("list", load)
        return list(accounts) if include_closed else [a for a in accounts if a.is_open]

    async def _get_account_json(
        self, key: str, suffix: str, params: dict[str, str], deadline: Deadline
    ) -> dict[str, object] | None:
        return await get_account_json(self._gateway, key, suffix, params, deadline)

    async def balance(self, raw_key: str, *, deadline: Deadline | None = None) -> Balance:
        key = check_account_key(raw_key)
        deadline = deadline or Deadline.after(None)

        async def load() -> Balance:
            params = {"instType": "BROKERAGE", "realTimeNAV": "true"}
            payload = await self._get_account_json(key, "/balance", params, deadline)
            return parse_balance(key, payload, self._now_ms())

        await self._gateway.require_session()
        return await self._balances.get(key, load)

    async def portfolio(
        self,
        raw_key: str,
        *,
        deadline: Deadline | None = None,
        on_page: Callable[[int, int], Awaitable[None]] | None = None,
    ) -> Portfolio:
        """Every position, across all of E*TRADE's pages; ``on_page(page, total_pages)`` after each
        page fetched from E*TRADE (not called when the portfolio comes from the cache)."""
        key = check_account_key(raw_key)
        deadline = deadline or Deadline.after(None)
        await self._gateway.require_session()
        return await self._portfolios.get(key, lambda: self._load_portfolio(key, deadline, on_page))

    async def _load_portfolio(
        self, key: str, deadline: Deadline, on_page: Callable[[int, int], Awaitable[None]] | None
    ) -> Portfolio:
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
            page = parse_portfolio_page(await self._get_account_json(key, "/portfolio", params, deadline))
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

    async def position(self, raw_key: str, raw_symbol: str, *, deadline: Deadline | None = None) -> PositionDetails:
        key = check_account_key(raw_key)
        symbol = normalize_symbol(raw_symbol)
        deadline = deadline or Deadline.after(None)
        portfolio = await self.portfolio(key, deadline=deadline)
        held = tuple(p for p in portfolio.positions if p.symbol.upper() == symbol)
        if not held:
            raise NotFound(ErrorCode.POSITION_NOT_FOUND, f"the account holds no position in {symbol}")
        lots: list[Lot] = []
        for position in held:
            payload = await self._get_account_json(key, f"/portfolio/{position.position_id}", {}, deadline)
            lots.extend(parse_lots(payload, self._now_ms()))
        batch = await self._market.quotes([symbol], deadline=deadline)
        quote = batch.quotes[0] if batch.quotes else None
        return PositionDetails(account_id_key=key, positions=held, lots=tuple(lots), quote=quote)
