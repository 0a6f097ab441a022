"""The Accounts API: list, balance, portfolio and position lots (reference §2.1, §3.1-3.3).

Account keys: a key that isn't 22 characters of ``[A-Za-z0-9_-]`` is 400/102 "Please enter
valid account key"; a well-formed key the user doesn't own is 400/100 "Account key does not
belong to user". An empty (or closed) portfolio is 204 with an empty body.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlencode

from emulator import errors
from emulator.book import Account, Book
from emulator.clock import EASTERN, Clock
from emulator.errors import ApiError
from emulator.market import Market, Snapshot, quote_status
from emulator.quotes import dividend_yield, eastern_epoch, ex_dividend_date, market_cap, pe_ratio
from emulator.routing import Document, Request, Response, Route
from emulator.valuation import AccountValue, LotValue, PositionValue, buying_power, value_account

_ACCOUNT_KEY = re.compile(r"[A-Za-z0-9_-]{22}")
VIEWS = {
    "QUICK": "Quick",
    "PERFORMANCE": "Performance",
    "FUNDAMENTAL": "Fundamental",
    "OPTIONSWATCH": "OptionsWatch",
    "COMPLETE": "Complete",
}
DEFAULT_PAGE_SIZE = 50
#: dayTraderStatus of an account that is not a pattern day trader (every emulated account).
NO_PDT = "NO_PDT"

_SortKey = Callable[[PositionValue], float | str]
_SORT_KEYS: dict[str, _SortKey] = {
    "SYMBOL": lambda p: p.position.symbol,
    "SYMBOL_DESC": lambda p: p.position.symbol,
    "DISPLAY_SYMBOL": lambda p: p.position.symbol,
    "TYPE_NAME": lambda p: p.snap.instrument.security_type,
    "TYPE_CODE": lambda p: p.snap.instrument.security_type,
    "EXCHANGE_NAME": lambda p: p.snap.instrument.exchange,
    "QUANTITY": lambda p: p.position.quantity,
    "LONG_OR_SHORT": lambda p: "SHORT" if p.position.is_short else "LONG",
    "DATE_ACQUIRED": lambda p: p.position.acquired_at.timestamp(),
    "PRICEPAID": lambda p: p.position.price_paid,
    "TOTAL_GAIN": lambda p: p.total_gain,
    "TOTAL_GAIN_PCT": lambda p: p.total_gain_pct,
    "MARKET_VALUE": lambda p: p.market_value,
    "BI": lambda p: p.snap.bid,
    "ASK": lambda p: p.snap.ask,
    "BID_SIZE": lambda p: p.snap.bid_size,
    "ASK_SIZE": lambda p: p.snap.ask_size,
    "BID_ASK_SPREAD": lambda p: p.snap.ask - p.snap.bid,
    "PRICE_CHANGE": lambda p: p.snap.change,
    "PRICE_CHANGE_PCT": lambda p: p.snap.change_pct,
    "VOLUME": lambda p: p.snap.volume,
    "PRE_DAY_VOL": lambda p: p.snap.prev_volume,
    "WEEK_52_HIGH": lambda p: p.snap.high52,
    "WEEK_52_LOW": lambda p: p.snap.low52,
    "EPS": lambda p: p.snap.instrument.eps,
    "PE_RATIO": lambda p: pe_ratio(p.snap.instrument, p.snap.last),
    "DAYS_GAIN": lambda p: p.days_gain,
    "DAYS_GAIN_PCT": lambda p: p.days_gain_pct,
    "COMMISSION": lambda p: p.position.commissions,
    "OTHER_FEES": lambda p: p.position.fees,
    "MARKETCAP": lambda p: market_cap(p.snap.instrument, p.snap.last),
    "PREV_CLOSE": lambda p: p.snap.prev_close,
    "OPEN": lambda p: p.snap.open,
    "TOTAL_COST": lambda p: p.total_cost,
    "COST_PERSHARE": lambda p: p.cost_per_share,
    "LAST_TRADE": lambda p: p.snap.last,
    "LAST_TRADE_TIME": lambda p: p.snap.last_trade_at.timestamp(),
    "DIVIDEND": lambda p: p.snap.instrument.annual_dividend,
    "ANNUAL_DIV": lambda p: p.snap.instrument.annual_dividend,
    "DIV_YIELD": lambda p: dividend_yield(p.snap.instrument, p.snap.last),
    "BETA": lambda p: p.snap.instrument.beta,
}
# E*TRADE's other sortBy values (options greeks, performance windows, ...) are accepted and
# leave the symbol order unchanged: the emulator holds no options and keeps no history.
_ACCEPTED_SORTS = set(_SORT_KEYS) | {
    "CURRENCY", "OPTION_TYPE", "STRIKE_PRICE", "PREMIUM", "EXPIRATION", "DAYS_RANGE", "PCT_OF_PORTFOLIO",
    "BASE_SYMBOL_PRICE", "WEEK_52_RANGE", "HELD_AS", "OPTION_MULTIPLIER", "DELIVERABLES", "DIV_PAY_DATE",
    "EST_EARN", "EX_DIV_DATE", "TEN_DAY_AVG_VOL", "MARGINABLE", "DELTA_52WK_HI", "DELTA_52WK_LOW", "PERF_1MON",
    "PERF_12MON", "PERF_3MON", "PERF_6MON", "SV_1MON_AVG", "SV_10DAY_AVG", "SV_20DAY_AVG", "SV_2MON_AVG",
    "SV_3MON_AVG", "SV_4MON_AVG", "SV_6MON_AVG", "DELTA", "GAMMA", "IV_PCT", "THETA", "VEGA", "ADJ_NONADJ_FLAG",
    "DAYS_EXPIRATION", "OPEN_INTEREST", "INSTRINIC_VALUE", "RHO", "AFTER_HOURS_PCTCHANGE", "PRE_MARKET_PCTCHANGE",
    "EXPAND_COLLAPSE_FLAG",
}  # fmt: skip


def quantity(value: float) -> float | int:
    """Share counts as E*TRADE prints them: whole numbers without a decimal point."""
    return int(value) if float(value).is_integer() else value


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _positive_int(request: Request, name: str, default: int, error: tuple[int, str]) -> int:
    raw = request.param(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ApiError.bad_request(error)
    return int(raw)


class AccountsApi:
    """Handlers for the Accounts module (rate-limit module ``accounts``)."""

    def __init__(self, book: Book, market: Market, clock: Clock) -> None:
        self.book = book
        self.market = market
        self.clock = clock

    def routes(self) -> list[Route]:
        """This module's routes."""
        return [
            Route("accounts_list", "/v1/accounts/list", self.list_accounts, module="accounts"),
            Route("balance", "/v1/accounts/{accountIdKey}/balance", self.balance, module="accounts"),
            Route("portfolio", "/v1/accounts/{accountIdKey}/portfolio", self.portfolio, module="accounts"),
            Route(
                "position_lots",
                "/v1/accounts/{accountIdKey}/portfolio/{positionId:int}",
                self.position_lots,
                module="accounts",
            ),
        ]

    # -- helpers -----------------------------------------------------------------------
    def resolve(self, request: Request) -> Account:
        """The account named by the path, or the documented 400 (102 malformed, 100 not owned)."""
        key = request.params.get("accountIdKey", "")
        if not _ACCOUNT_KEY.fullmatch(key):
            raise ApiError.bad_request(errors.ACCOUNT_KEY_INVALID)
        account = self.book.account(key)
        if account is None:
            raise ApiError.bad_request(errors.ACCOUNT_KEY_NOT_OWNED)
        return account

    def _valued(self, account: Account, at_previous_close: bool = False) -> AccountValue:
        now = self.clock.now()
        snaps = {symbol: self.market.observe(symbol, now) for symbol in {p.symbol for p in account.positions.values()}}
        return value_account(account, snaps, at_previous_close)

    # -- list --------------------------------------------------------------------------
    def list_accounts(self, request: Request) -> Document | Response:
        """``GET /v1/accounts/list``."""
        accounts = self.book.accounts()
        if not accounts:
            return Response.no_content()
        rows = [
            {
                "accountId": a.account_id,
                "accountIdKey": a.account_id_key,
                "accountMode": a.account_mode,
                "accountDesc": a.account_desc,
                "accountName": a.account_name,
                "accountType": a.account_type,
                "institutionType": a.institution_type,
                "accountStatus": a.account_status,
                "closedDate": a.closed_date,
                "shareWorksAccount": False,
                "fcManagedMssbClosedAccount": False,
            }
            for a in accounts
        ]
        return Document("AccountListResponse", {"Accounts": {"Account": rows}})

    # -- balance -----------------------------------------------------------------------
    def balance(self, request: Request) -> Document:
        """``GET /v1/accounts/{accountIdKey}/balance?instType=BROKERAGE[&realTimeNAV=true]``.

        With ``realTimeNAV=true`` the values use current quotes; otherwise the previous close.
        """
        account = self.resolve(request)
        inst_type = request.param("instType")
        if inst_type is None or inst_type.upper() != "BROKERAGE":
            raise ApiError.bad_request(errors.INVALID_INSTITUTION_TYPE)
        real_time = request.bool_param("realTimeNAV")
        with self.book.lock:
            valued = self._valued(account, at_previous_close=not real_time)
            cash = account.cash
        day_trader_status = NO_PDT
        total = valued.total_value
        gross = valued.long_value - valued.short_value
        power = buying_power(valued)
        cash_bp, margin_bp, day_trade_bp = power.cash, power.margin, power.day_trade_margin
        computed: dict[str, object] = {
            "cashAvailableForInvestment": round(max(cash, 0.0), 2),
            "cashAvailableForWithdrawal": cash_bp,
            "totalAvailableForWithdrawal": cash_bp,
            "netCash": round(cash, 2),
            "cashBalance": round(cash, 2),
            "settledCashForInvestment": round(max(cash, 0.0), 2),
            "unSettledCashForInvestment": 0.0,
            "fundsWithheldFromPurchasePower": 0.0,
            "fundsWithheldFromWithdrawal": 0.0,
            "marginBuyingPower": margin_bp,
            "cashBuyingPower": cash_bp,
            # Day-trading buying power exists only for pattern day traders; every emulated
            # account is NO_PDT, and E*TRADE's captured NO_PDT margin balance shows both as 0.
            "dtMarginBuyingPower": day_trade_bp if day_trader_status != NO_PDT else 0.0,
            "dtCashBuyingPower": cash_bp if day_trader_status != NO_PDT else 0.0,
            "marginBalance": round(min(cash, 0.0), 2),
            # The captured margin balance reports the shorts' market value as a positive amount
            # (shortAdjustBalance 2913.88 beside netMvShort -2913.88).
            "shortAdjustBalance": round(-valued.short_value, 2) if valued.short_value else 0.0,
            "regtEquity": total,
            "regtEquityPercent": round(100.0 * total / gross, 4) if gross else 100.0,
            "accountBalance": round(cash, 2),
            "OpenCalls": {"minEquityCall": 0.0, "fedCall": 0.0, "cashCall": 0.0, "houseCall": 0.0},
            "RealTimeValues": {
                "totalAccountValue": total,
                "netMv": valued.net_value,
                "netMvLong": valued.long_value,
                "netMvShort": valued.short_value,
                "totalLongValue": valued.long_value,
            },
        }
        content: dict[str, object] = {
            "accountId": account.account_id,
            "institutionType": account.institution_type,
            "asOfDate": int(self.clock.now().timestamp()),
            "accountType": account.account_type,
            "optionLevel": account.option_level,
            "accountDescription": account.account_name,
            "quoteMode": 6,
            "dayTraderStatus": day_trader_status,
            "accountMode": account.account_mode,
            "accountDesc": account.account_desc,
            "Cash": {"fundsForOpenOrdersCash": 0.0, "moneyMktBalance": 0.0},
        }
        if account.is_margin:
            content["Margin"] = {"dtCashOpenOrderReserve": 0.0, "dtMarginOpenOrderReserve": 0.0}
        content["Computed"] = computed
        return Document("BalanceResponse", content)

    # -- portfolio ---------------------------------------------------------------------
    def portfolio(self, request: Request) -> Document | Response:
        """``GET /v1/accounts/{accountIdKey}/portfolio`` with views, paging, sorting, totals, lots."""
        account = self.resolve(request)
        view = (request.param("view") or "QUICK").upper()
        if view not in VIEWS:
            raise ApiError.invalid_parameter("view")
        count = _positive_int(request, "count", DEFAULT_PAGE_SIZE, errors.INVALID_COUNT)
        page = _positive_int(request, "pageNumber", 1, (errors.INVALID_COUNT[0], "Invalid page number."))
        sort_by = request.param("sortBy")
        sort_by = sort_by.upper() if sort_by else None
        if sort_by is not None and sort_by not in _ACCEPTED_SORTS:
            raise ApiError.bad_request(errors.INVALID_SORT_COLUMN)
        sort_order = (request.param("sortOrder") or "DESC").upper()
        if sort_order not in ("ASC", "DESC"):
            raise ApiError.bad_request(errors.INVALID_SORT_ORDER)
        session = (request.param("marketSession") or "REGULAR").upper()
        if session not in ("REGULAR", "EXTENDED"):
            raise ApiError.invalid_parameter("marketSession")
        totals_required = request.bool_param("totalsRequired")
        lots_required = request.bool_param("lotsRequired")

        with self.book.lock:
            if not account.is_open or not account.positions:
                return Response.no_content()
            valued = self._valued(account)
            cash = account.cash
        rows = sorted(valued.positions, key=lambda p: p.position.symbol)
        key = _SORT_KEYS.get(sort_by or "")
        if key is not None:
            rows.sort(key=key, reverse=sort_order == "DESC")
        total_pages = max(1, math.ceil(len(rows) / count))
        if page > total_pages:
            return Response.no_content()
        page_rows = rows[(page - 1) * count : page * count]
        portfolio: dict[str, object] = {"accountId": account.account_id}
        if page < total_pages:
            # Only present when there are more pages (a string, as on the wire).
            portfolio["next"] = self._page_url(request, account, page + 1)
            portfolio["nextPageNo"] = str(page + 1)
        portfolio["totalPages"] = total_pages
        portfolio["Position"] = [
            self._position(request, account, row, VIEWS[view], valued.total_value, lots_required) for row in page_rows
        ]
        content: dict[str, object] = {}
        if totals_required:
            content["Totals"] = self._totals(valued, cash)
        content["AccountPortfolio"] = [portfolio]
        return Document("PortfolioResponse", content)

    def _page_url(self, request: Request, account: Account, page: int) -> str:
        pairs = [(k, v) for k, v in parse_qsl(request.raw_query, keep_blank_values=True) if k.lower() != "pagenumber"]
        suffix = urlencode([*pairs, ("pageNumber", str(page))])
        return f"{request.base_url}/v1/accounts/{account.account_id_key}/portfolio{request.json_suffix}?{suffix}"

    @staticmethod
    def _totals(valued: AccountValue, cash: float) -> dict[str, object]:
        days_gain = round(sum(p.days_gain for p in valued.positions), 4)
        days_base = sum(lot.days_gain_base for p in valued.positions for lot in p.lots)
        total_gain = round(sum(p.total_gain for p in valued.positions), 4)
        price_paid = round(sum(p.total_cost for p in valued.positions), 4)
        abs_cost = sum(abs(p.total_cost) for p in valued.positions)
        return {
            "todaysGainLoss": days_gain,
            "todaysGainLossPct": round(100.0 * days_gain / days_base, 4) if days_base else 0.0,
            "totalMarketValue": valued.net_value,
            "totalGainLoss": total_gain,
            "totalGainLossPct": round(100.0 * total_gain / abs_cost, 4) if abs_cost else 0.0,
            "totalPricePaid": price_paid,
            "cashBalance": round(cash, 2),
        }

    def _position(
        self,
        request: Request,
        account: Account,
        row: PositionValue,
        view: str,
        account_value: float,
        lots_required: bool,
    ) -> dict[str, object]:
        position, snap, inst = row.position, row.snap, row.snap.instrument
        today_qty, today_price, today_comm, today_fees = row.today()
        product: dict[str, object] = {"symbol": inst.symbol, "securityType": inst.security_type}
        if inst.security_sub_type:
            product["securitySubType"] = inst.security_sub_type
        product.update(
            expiryYear=0,
            expiryMonth=0,
            expiryDay=0,
            strikePrice=0,
            productId={"symbol": inst.symbol, "typeCode": "EQUITY"},
        )
        base = f"{request.base_url}/v1"
        lots_base = f"{base}/accounts/{account.account_id_key}/portfolio"
        body: dict[str, object] = {
            "positionId": position.position_id,
            "symbolDescription": inst.symbol,
            "dateAcquired": _ms(position.acquired_at),
            "pricePaid": round(position.price_paid, 4),
            "commissions": round(position.commissions, 4),
            "otherFees": round(position.fees, 4),
            "quantity": quantity(position.quantity),
            "positionIndicator": "TYPE5" if position.is_short else ("TYPE2" if account.is_margin else "TYPE1"),
            "positionType": "SHORT" if position.is_short else "LONG",
            "daysGain": row.days_gain,
            "daysGainPct": row.days_gain_pct,
            "marketValue": row.market_value,
            "totalCost": row.total_cost,
            "totalGain": row.total_gain,
            "totalGainPct": row.total_gain_pct,
            "pctOfPortfolio": round(100.0 * row.market_value / account_value, 4) if account_value else 0.0,
            "costPerShare": row.cost_per_share,
            "todayCommissions": round(today_comm, 4),
            "todayFees": round(today_fees, 4),
            "todayPricePaid": today_price,
            "todayQuantity": quantity(today_qty),
            "adjPrevClose": snap.prev_close,
            "lotsDetails": f"{lots_base}/{position.position_id}{request.json_suffix}",
            "quoteDetails": f"{base}/market/quote/{inst.symbol}{request.json_suffix}",
            "Product": product,
            view: _view(view, row),
        }
        if lots_required:
            body["PositionLot"] = [_lot(row, lot) for lot in row.lots]
        return body

    # -- lots --------------------------------------------------------------------------
    def position_lots(self, request: Request) -> Document | Response:
        """``GET /v1/accounts/{accountIdKey}/portfolio/{positionId}``: the position's lots."""
        account = self.resolve(request)
        position_id = int(request.params["positionId"])
        with self.book.lock:
            position = account.positions.get(position_id)
            if position is None:
                return Response.no_content()
            valued = self._valued(account)
        row = next(p for p in valued.positions if p.position.position_id == position_id)
        return Document("PositionLotsResponse", {"PositionLot": [_lot(row, lot) for lot in row.lots]})


def _lot(row: PositionValue, value: LotValue) -> dict[str, object]:
    lot = value.lot
    qty = abs(lot.quantity)
    long_term = row.snap.at - lot.acquired_at > timedelta(days=365)
    return {
        "positionId": row.position.position_id,
        "positionLotId": lot.lot_id,
        "price": lot.price,
        "termCode": 2 if long_term else 1,
        "daysGain": value.days_gain,
        "daysGainPct": value.days_gain_pct,
        "marketValue": value.market_value,
        "totalCost": value.total_cost,
        "totalCostForGainPct": abs(value.total_cost),
        "totalGain": value.total_gain,
        "lotSourceCode": 0,
        "originalQty": quantity(abs(lot.original_quantity)),
        "remainingQty": quantity(qty),
        "availableQty": quantity(qty),
        "orderNo": 0,
        "legNo": 0,
        "acquiredDate": _ms(lot.acquired_at),
        "locationCode": 0,
        "exchangeRate": 1.0,
        "settlementCurrency": "USD",
        "paymentCurrency": "USD",
        "adjPrice": lot.price,
        "commPerShare": round(lot.commission / qty, 4) if qty else 0.0,
        "feesPerShare": round(lot.fees / qty, 4) if qty else 0.0,
        "premiumAdj": 0.0,
        "shortType": 1 if lot.quantity < 0 else 0,
    }


def _view(container: str, row: PositionValue) -> dict[str, object]:
    snap: Snapshot = row.snap
    inst = snap.instrument
    common = {
        "lastTrade": snap.last,
        "lastTradeTime": int(snap.last_trade_at.timestamp()),
        "change": snap.change,
        "changePct": snap.change_pct,
        "quoteStatus": quote_status(snap.phase),
    }
    if container == "Quick":
        return {**common, "volume": snap.volume}
    if container == "Performance":
        return {
            **common,
            "daysGain": row.days_gain,
            "marketValue": row.market_value,
            "totalGain": row.total_gain,
            "totalGainPct": row.total_gain_pct,
        }
    if container == "Fundamental":
        return {
            **common,
            "dividend": round(inst.annual_dividend / 4, 4),
            "divYield": dividend_yield(inst, snap.last),
            "eps": inst.eps,
            "marketCap": market_cap(inst, snap.last),
            "peRatio": pe_ratio(inst, snap.last),
            "week52Range": f"{snap.low52:.2f}-{snap.high52:.2f}",
        }
    if container == "OptionsWatch":
        return {
            **common,
            "ask": snap.ask,
            "bid": snap.bid,
            "baseSymbolAndPrice": f"{inst.symbol} {snap.last:.2f}",
            "premium": 0.0,
        }
    return _complete(common, row)


def _complete(common: dict[str, object], row: PositionValue) -> dict[str, object]:
    """The COMPLETE view: exactly the 66 fields of E*TRADE's documented CompleteView.

    Equities only, so the option fields (greeks, premium, open interest, days to expiration,
    deliverables) are zero or empty. The emulator keeps no price history, so the trailing
    performance figures are 0 and the average volumes are the previous session's volume.
    """
    snap: Snapshot = row.snap
    inst = snap.instrument
    ex_div = ex_dividend_date(inst, snap.at.astimezone(EASTERN).date())
    quarterly = round(inst.annual_dividend / 4, 4)
    return {
        **common,
        "adjLastTrade": snap.last,
        "adjPrevClose": snap.prev_close,
        "adjPrice": snap.last,
        "annualDividend": inst.annual_dividend,
        "ask": snap.ask,
        "askSize": snap.ask_size,
        "baseSymbolAndPrice": "",
        "beta": inst.beta,
        "bid": snap.bid,
        "bidAskSpread": round(snap.ask - snap.bid, 4),
        "bidSize": snap.bid_size,
        "currency": "USD",
        "cusip": "",
        "daysRange": f"{snap.low:.2f}-{snap.high:.2f}",
        "daysToExpiration": 0,
        "deliverablesStr": "",
        "delta": 0.0,
        "delta52WkHigh": round(snap.last - snap.high52, 4),
        "delta52WkLow": round(snap.last - snap.low52, 4),
        "dividend": quarterly,
        "divPayDate": eastern_epoch(ex_div + timedelta(days=14)) if ex_div else 0,
        "divYield": dividend_yield(inst, snap.last),
        "eps": inst.eps,
        "estEarnings": round(inst.eps * 1.08, 4),
        "exchange": inst.exchange,
        "exDividendDate": eastern_epoch(ex_div) if ex_div else 0,
        "gamma": 0.0,
        "intrinsicValue": 0.0,
        "ivPct": 0.0,
        "marginable": inst.security_type == "EQ",
        "marketCap": market_cap(inst, snap.last),
        "open": snap.open,
        "openInterest": 0,
        "optionMultiplier": 0.0,
        "optionsAdjustedFlag": False,
        "peRatio": pe_ratio(inst, snap.last),
        "perform12Month": 0.0,
        "perform1Month": 0.0,
        "perform3Month": 0.0,
        "perform6Month": 0.0,
        "premium": 0.0,
        "prevClose": snap.prev_close,
        "prevDayVolume": snap.prev_volume,
        "price": snap.last,
        "priceAdjustedFlag": False,
        "rho": 0.0,
        "sv10DaysAvg": snap.prev_volume,
        "sv1MonAvg": snap.prev_volume,
        "sv20DaysAvg": snap.prev_volume,
        "sv2MonAvg": snap.prev_volume,
        "sv3MonAvg": snap.prev_volume,
        "sv4MonAvg": snap.prev_volume,
        "sv6MonAvg": snap.prev_volume,
        "symbolDescription": inst.company_name,
        "tenDayVolume": snap.prev_volume,
        "theta": 0.0,
        "vega": 0.0,
        "volume": snap.volume,
        "week52High": snap.high52,
        "week52Low": snap.low52,
        "week52Range": f"{snap.low52:.2f}-{snap.high52:.2f}",
    }
