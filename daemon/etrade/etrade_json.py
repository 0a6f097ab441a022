"""Turn E*TRADE's v1 JSON answers into domain types (``daemon/models.py``).

E*TRADE's JSON is loose: a single element may arrive as an object instead of a one-item list,
numbers may be strings, fields come and go with the detail level. Every accessor here tolerates
that; a missing field becomes ``None`` (or the type's zero for required totals), never a crash.
Shapes: ../shared/reference/etrade-api.md §3.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from broker_client.symbols import SymbolError
from daemon.models import (
    Account,
    Balance,
    Lot,
    PortfolioPage,
    PortfolioTotals,
    Position,
    Product,
    Quote,
)

JSON = Mapping[str, Any]

_YEAR_MS = 365 * 24 * 3600 * 1000


def as_list(value: Any) -> list[Any]:
    """E*TRADE (and XML-to-JSON bridges) send one-element lists as bare objects."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def obj(value: Any) -> JSON:
    return value if isinstance(value, Mapping) else {}


def opt_float(value: Any) -> float | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def opt_int(value: Any) -> int | None:
    number = opt_float(value)
    return None if number is None else int(number)


def num(value: Any) -> float:
    number = opt_float(value)
    return 0.0 if number is None else number


def whole(value: Any) -> int:
    number = opt_int(value)
    return 0 if number is None else number


def text(value: Any) -> str:
    return "" if value is None else str(value)


def mask_account_number(account_id: str) -> str:
    """Keep the last four digits only: account numbers stay out of model context and logs."""
    digits = account_id.strip()
    if len(digits) <= 4:
        return "****"
    return "****" + digits[-4:]


# --- accounts ---------------------------------------------------------------------------------


def parse_accounts(payload: JSON | None) -> list[Account]:
    if not payload:
        return []
    container = obj(obj(payload.get("AccountListResponse")).get("Accounts"))
    accounts = []
    for raw in as_list(container.get("Account")):
        a = obj(raw)
        key = text(a.get("accountIdKey"))
        if not key:
            continue
        accounts.append(
            Account(
                account_id_key=key,
                account_number_masked=mask_account_number(text(a.get("accountId"))),
                name=text(a.get("accountName")),
                description=text(a.get("accountDesc")),
                account_type=text(a.get("accountType")),
                account_mode=text(a.get("accountMode")),
                institution_type=text(a.get("institutionType")) or "BROKERAGE",
                status=text(a.get("accountStatus")) or "ACTIVE",
                closed_at_unix=whole(a.get("closedDate")),
            )
        )
    return accounts


def parse_balance(account_id_key: str, payload: JSON | None, fetched_at_unix_ms: int) -> Balance:
    b = obj(obj(payload).get("BalanceResponse"))
    computed = obj(b.get("Computed"))
    realtime = obj(computed.get("RealTimeValues"))
    cash = obj(b.get("Cash"))
    return Balance(
        account_id_key=account_id_key,
        account_type=text(b.get("accountType")),
        account_mode=text(b.get("accountMode")),
        description=text(b.get("accountDescription") or b.get("accountDesc")),
        option_level=text(b.get("optionLevel")),
        day_trader_status=text(b.get("dayTraderStatus")),
        total_account_value=num(realtime.get("totalAccountValue")),
        net_cash=num(computed.get("netCash")),
        cash_balance=num(computed.get("cashBalance")),
        cash_available_for_investment=num(computed.get("cashAvailableForInvestment")),
        cash_available_for_withdrawal=num(computed.get("cashAvailableForWithdrawal")),
        cash_buying_power=num(computed.get("cashBuyingPower")),
        margin_buying_power=num(computed.get("marginBuyingPower")),
        settled_cash_for_investment=num(computed.get("settledCashForInvestment")),
        unsettled_cash_for_investment=num(computed.get("unSettledCashForInvestment")),
        funds_for_open_orders=num(cash.get("fundsForOpenOrdersCash")),
        market_value_long=num(realtime.get("netMvLong")),
        market_value_short=num(realtime.get("netMvShort")),
        net_market_value=num(realtime.get("netMv")),
        margin_balance=num(computed.get("marginBalance")),
        fetched_at_unix_ms=fetched_at_unix_ms,
    )


def _position(raw: Any) -> Position | None:
    p = obj(raw)
    product = obj(p.get("Product"))
    symbol = text(product.get("symbol") or p.get("symbolDescription"))
    if not symbol:
        return None
    quick = obj(p.get("Quick") or p.get("Performance") or p.get("Complete") or p.get("Fundamental"))
    quantity = num(p.get("quantity"))
    cost_per_share = opt_float(p.get("costPerShare"))
    price_paid = num(p.get("pricePaid"))
    return Position(
        position_id=whole(p.get("positionId")),
        symbol=symbol,
        description=text(p.get("symbolDescription")),
        security_type=text(product.get("securityType")),
        security_subtype=text(product.get("securitySubType")),
        position_type=text(p.get("positionType")) or ("SHORT" if quantity < 0 else "LONG"),
        quantity=quantity,
        price_paid=price_paid,
        cost_per_share=price_paid if cost_per_share is None else cost_per_share,
        total_cost=num(p.get("totalCost")),
        market_value=num(p.get("marketValue")),
        last_price=num(quick.get("lastTrade")),
        change=num(quick.get("change")),
        change_percent=num(quick.get("changePct")),
        days_gain=num(p.get("daysGain")),
        days_gain_percent=num(p.get("daysGainPct")),
        total_gain=num(p.get("totalGain")),
        total_gain_percent=num(p.get("totalGainPct")),
        percent_of_portfolio=num(p.get("pctOfPortfolio")),
        date_acquired_unix_ms=whole(p.get("dateAcquired")),
        volume=whole(quick.get("volume")),
        commissions=num(p.get("commissions")),
        other_fees=num(p.get("otherFees")),
    )


def _totals(raw: Any) -> PortfolioTotals | None:
    t = obj(raw)
    if not t:
        return None
    return PortfolioTotals(
        total_market_value=num(t.get("totalMarketValue")),
        total_gain=num(t.get("totalGainLoss")),
        total_gain_percent=num(t.get("totalGainLossPct")),
        total_cost=num(t.get("totalPricePaid")),
        todays_gain=num(t.get("todaysGainLoss")),
        todays_gain_percent=num(t.get("todaysGainLossPct")),
        cash_balance=num(t.get("cashBalance")),
    )


def parse_portfolio_page(payload: JSON | None) -> PortfolioPage:
    """One page; ``payload`` None means HTTP 204 (no positions)."""
    if not payload:
        return PortfolioPage(positions=(), totals=None, total_pages=1, next_page=None)
    response = obj(payload.get("PortfolioResponse"))
    positions: list[Position] = []
    total_pages = 1
    next_page: int | None = None
    for raw_account in as_list(response.get("AccountPortfolio")):
        account = obj(raw_account)
        total_pages = max(total_pages, whole(account.get("totalPages")) or 1)
        next_no = opt_int(account.get("nextPageNo"))
        if next_no:
            next_page = next_no
        for raw in as_list(account.get("Position")):
            position = _position(raw)
            if position is not None:
                positions.append(position)
    return PortfolioPage(
        positions=tuple(positions), totals=_totals(response.get("Totals")), total_pages=total_pages, next_page=next_page
    )


def summarize_totals(positions: tuple[Position, ...], upstream: PortfolioTotals | None) -> PortfolioTotals:
    """E*TRADE's totals when it sent them, else sums over the positions."""
    if upstream is not None:
        return upstream
    market_value = sum(p.market_value for p in positions)
    cost = sum(p.total_cost for p in positions)
    gain = sum(p.total_gain for p in positions)
    todays = sum(p.days_gain for p in positions)
    previous_value = market_value - todays
    return PortfolioTotals(
        total_market_value=market_value,
        total_gain=gain,
        total_gain_percent=(gain / cost * 100.0) if cost else 0.0,
        total_cost=cost,
        todays_gain=todays,
        todays_gain_percent=(todays / previous_value * 100.0) if previous_value else 0.0,
    )


def parse_lots(payload: JSON | None, now_unix_ms: int) -> list[Lot]:
    if not payload:
        return []
    lots = []
    for raw in as_list(obj(payload.get("PositionLotsResponse")).get("PositionLot")):
        lot = obj(raw)
        acquired = whole(lot.get("acquiredDate"))
        term = ""
        if acquired:
            term = "LONG" if now_unix_ms - acquired > _YEAR_MS else "SHORT"
        lots.append(
            Lot(
                position_id=whole(lot.get("positionId")),
                lot_id=whole(lot.get("positionLotId")),
                price=num(lot.get("price")),
                original_quantity=num(lot.get("originalQty")),
                remaining_quantity=num(lot.get("remainingQty")),
                acquired_at_unix_ms=acquired,
                market_value=num(lot.get("marketValue")),
                total_cost=num(lot.get("totalCost")),
                total_gain=num(lot.get("totalGain")),
                days_gain=num(lot.get("daysGain")),
                term=term,
            )
        )
    return lots


# --- market -----------------------------------------------------------------------------------

# The detail containers E*TRADE uses per detailFlag (§3.4); ALL is the richest.
_DETAIL_CONTAINERS = ("All", "Intraday", "Fundamental", "Week52")


def _quote(raw: Any, fetched_at_unix_ms: int) -> Quote | None:
    q = obj(raw)
    product = obj(q.get("Product"))
    symbol = text(product.get("symbol")).upper()
    if not symbol:
        return None
    detail: JSON = {}
    for name in _DETAIL_CONTAINERS:
        if isinstance(q.get(name), Mapping):
            detail = q[name]
            break
    return Quote(
        symbol=symbol,
        company_name=text(detail.get("companyName") or detail.get("symbolDescription")),
        security_type=text(product.get("securityType")),
        exchange=text(detail.get("primaryExchange")),
        quote_status=text(q.get("quoteStatus")),
        quote_time_unix=whole(q.get("dateTimeUTC")),
        last_trade=opt_float(detail.get("lastTrade")),
        change=opt_float(detail.get("changeClose")),
        change_percent=opt_float(detail.get("changeClosePercentage")),
        bid=opt_float(detail.get("bid")),
        bid_size=opt_int(detail.get("bidSize")),
        ask=opt_float(detail.get("ask")),
        ask_size=opt_int(detail.get("askSize")),
        open=opt_float(detail.get("open")),
        high=opt_float(detail.get("high")),
        low=opt_float(detail.get("low")),
        previous_close=opt_float(detail.get("previousClose")),
        volume=opt_int(detail.get("totalVolume")),
        high_52_week=opt_float(detail.get("high52")),
        low_52_week=opt_float(detail.get("low52")),
        pe_ratio=opt_float(detail.get("pe")),
        eps=opt_float(detail.get("eps")),
        market_cap=opt_float(detail.get("marketCap")),
        dividend_yield=opt_float(detail.get("yield")),
        beta=opt_float(detail.get("beta")),
        average_volume=opt_int(detail.get("averageVolume")),
        fetched_at_unix_ms=fetched_at_unix_ms,
    )


_SYMBOL_IN_TEXT = re.compile(r"\b([A-Z][A-Z0-9.\-/]{0,9})\b")


def parse_quotes(
    payload: JSON | None, asked: list[str], fetched_at_unix_ms: int
) -> tuple[list[Quote], list[SymbolError]]:
    """Quotes for the asked symbols, and an error for each asked symbol E*TRADE did not answer."""
    response = obj(obj(payload).get("QuoteResponse"))
    quotes: dict[str, Quote] = {}
    for raw in as_list(response.get("QuoteData")):
        quote = _quote(raw, fetched_at_unix_ms)
        if quote is not None:
            quotes[quote.symbol] = quote
    messages = [obj(m) for m in as_list(obj(response.get("Messages")).get("Message"))]
    errors: list[SymbolError] = []
    for symbol in asked:
        if symbol in quotes:
            continue
        reason = next(
            (
                text(m.get("description"))
                for m in messages
                if symbol in _SYMBOL_IN_TEXT.findall(text(m.get("description")))
            ),
            "",
        )
        errors.append(
            SymbolError(symbol=symbol, code="INVALID_SYMBOL", message=reason or f"E*TRADE has no quote for {symbol}")
        )
    return [quotes[s] for s in asked if s in quotes], errors


def parse_lookup(payload: JSON | None) -> list[Product]:
    data = as_list(obj(obj(payload).get("LookupResponse")).get("Data"))
    products = []
    for raw in data:
        d = obj(raw)
        if d.get("symbol"):
            products.append(
                Product(symbol=text(d.get("symbol")), description=text(d.get("description")), type=text(d.get("type")))
            )
    return products
