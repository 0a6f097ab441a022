"""The Market API: ``/v1/market/quote/{symbols}`` and ``/v1/market/lookup/{search}``.

Quote rules (reference §2.2, §3.4): 1-25 symbols; 26-50 only with ``overrideSymbolCount=true``
(else 400/1023); more than 50 is 400/1025. ``detailFlag`` picks the container: ALL → ``All``,
FUNDAMENTAL → ``Fundamental``, INTRADAY → ``Intraday``, OPTIONS → ``Option``, WEEK_52 →
``Week52``, MF_DETAIL → ``MutualFund``; anything else is 400/1020. Unknown symbols among
known ones come back as 200 with ``Messages.Message[]`` (code 1019) beside the good
``QuoteData``; if none is known the answer is 400/1019 "Invalid symbol.". A multi-symbol
quote is one request for rate limiting.

Option contracts are quoted by E*TRADE's documented option symbol,
``underlier:year:month:day:CALL|PUT:strike`` (e.g. ``IBM:2018:8:17:CALL:200.000000``, the form
option chains put in ``quoteDetail``), priced by :mod:`emulator.option_pricing`.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date, datetime, timedelta

from emulator import errors, universe
from emulator.clock import EASTERN, Clock
from emulator.errors import ApiError
from emulator.market import (
    Market,
    Snapshot,
    after_hours,
    extended_quote_status,
    format_eastern,
    quote_status,
    session_close,
)
from emulator.option_pricing import parse_option_symbol, price_option
from emulator.options import (
    OptionsApi,
    listed_kind,
    option_product,
    option_quote_container,
)
from emulator.routing import Document, Request, Route
from emulator.universe import Instrument

DETAIL_CONTAINERS = {
    "ALL": "All",
    "FUNDAMENTAL": "Fundamental",
    "INTRADAY": "Intraday",
    "OPTIONS": "Option",
    "WEEK_52": "Week52",
    "MF_DETAIL": "MutualFund",
}
MAX_SYMBOLS = 25
MAX_SYMBOLS_OVERRIDE = 50
_LOOKUP_TEXT = re.compile(r"[A-Za-z0-9 .&'\-]{1,64}")


def _stable(symbol: str, salt: str, modulo: int) -> int:
    """A per-symbol constant in [0, modulo) that doesn't depend on the seed or on hashing salt."""
    digest = hashlib.sha256(f"{salt}:{symbol}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % modulo


def eastern_epoch(day: date, hour: int = 0) -> int:
    """Epoch seconds of ``hour``:00 America/New_York on ``day``."""
    return int(datetime(day.year, day.month, day.day, hour, tzinfo=EASTERN).timestamp())


def business_day_on_or_before(day: date) -> date:
    """``day``, or the Friday before it when it falls on a weekend."""
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def ex_dividend_date(inst: Instrument, today: date) -> date | None:
    """The latest quarterly ex-dividend date on or before ``today`` (None if no dividend).

    Always a weekday: exchanges set ex-dates on trading days, so a scheduled date that lands
    on a weekend moves to the Friday before.
    """
    if inst.annual_dividend <= 0:
        return None
    cycle = _stable(inst.symbol, "exdiv-month", 3)
    day_of_month = 5 + _stable(inst.symbol, "exdiv-day", 20)
    year, month = today.year, today.month
    while True:
        if (month - 1) % 3 == cycle:
            candidate = business_day_on_or_before(date(year, month, day_of_month))
            if candidate <= today:
                return candidate
        month -= 1
        if month == 0:
            year, month = year - 1, 12


def dividend_payable_date(ex_div: date) -> date:
    """Three weeks after the ex-date, on a weekday."""
    return business_day_on_or_before(ex_div + timedelta(days=21))


def next_earnings_date(inst: Instrument, today: date) -> date:
    """The next quarterly earnings date after ``today`` (late January/April/July/October)."""
    day_of_month = 18 + _stable(inst.symbol, "earnings", 10)
    year = today.year
    for month in (1, 4, 7, 10, 13):
        candidate = date(year + month // 13, (month - 1) % 12 + 1, day_of_month)
        if candidate > today:
            return candidate
    raise AssertionError("unreachable: January next year is always later")


def pe_ratio(inst: Instrument, last: float) -> float:
    """Price over trailing EPS; 0 when EPS isn't positive (as E*TRADE shows)."""
    return round(last / inst.eps, 4) if inst.eps > 0 else 0.0


def dividend_yield(inst: Instrument, last: float) -> float:
    """Annual dividend over price, percent."""
    return round(100.0 * inst.annual_dividend / last, 4) if last else 0.0


def market_cap(inst: Instrument, last: float) -> float:
    """Price times shares outstanding."""
    return round(last * inst.shares_outstanding, 2)


#: Largest move of an extended-hours price away from the session's close, as a fraction.
EH_MAX_MOVE = 0.006


def extended_hours_price(seed: int, snap: Snapshot) -> float:
    """The extended-hours last price: the session's close moved by a bounded, seeded amount that
    changes every five minutes (extended-hours trading is thin; it never moves the tape)."""
    bucket = int(snap.at.timestamp()) // 300
    digest = hashlib.sha256(f"etrade-emulator:{seed}:eh:{snap.symbol}:{bucket}".encode()).digest()
    unit = int.from_bytes(digest[:8], "big") / 2**64
    return round(snap.last * (1 + EH_MAX_MOVE * (2 * unit - 1)), 2)


def _eh_detail(seed: int, snap: Snapshot) -> dict[str, object]:
    # E*TRADE's change here is the extended-hours last price minus the previous close (a captured
    # after-hours AAPL quote: lastPrice 176.66, previousClose 184.82, change -8.16).
    last = extended_hours_price(seed, snap)
    change = round(last - snap.prev_close, 2)
    return {
        "lastPrice": last,
        "change": change,
        "percentChange": round(100.0 * change / snap.prev_close, 2) if snap.prev_close else 0.0,
        "bid": round(last - (snap.ask - snap.bid) / 2, 2) if snap.ask else snap.bid,
        "bidSize": snap.bid_size,
        "ask": round(last + (snap.ask - snap.bid) / 2, 2) if snap.ask else snap.ask,
        "askSize": snap.ask_size,
        "volume": snap.volume,
        "timeOfLastTrade": int(snap.at.timestamp()),
        "timeZone": "",
        "quoteStatus": extended_quote_status(snap.phase),
    }


def _all(snap: Snapshot, require_earnings: bool, seed: int) -> dict[str, object]:
    inst = snap.instrument
    today = snap.at.astimezone(EASTERN).date()
    ex_div = ex_dividend_date(inst, today)
    quarterly = round(inst.annual_dividend / 4, 4)
    stamp = format_eastern(snap.at)
    body: dict[str, object] = {
        "adjustedFlag": False,
        "ask": snap.ask,
        "askSize": snap.ask_size,
        "askTime": stamp,
        "bid": snap.bid,
        "bidExchange": "",
        "bidSize": snap.bid_size,
        "bidTime": stamp,
        "changeClose": snap.change,
        "changeClosePercentage": snap.change_pct,
        "companyName": inst.company_name,
        "daysToExpiration": 0,
        "dirLast": "2" if snap.change < 0 else "1",
        "dividend": quarterly,
        "eps": inst.eps,
        "estEarnings": round(inst.eps * 1.08, 4),
        "exDividendDate": eastern_epoch(ex_div) if ex_div else 0,
        "high": snap.high,
        "high52": snap.high52,
        "lastTrade": snap.last,
        "low": snap.low,
        "low52": snap.low52,
        "open": snap.open,
        "openInterest": 0,
        "optionStyle": "",
        "optionUnderlier": "",
        "previousClose": snap.prev_close,
        "previousDayVolume": snap.prev_volume,
        "primaryExchange": inst.exchange,
        "symbolDescription": inst.company_name,
        "totalVolume": snap.volume,
        "upc": 0,
        "cashDeliverable": 0,
        "marketCap": market_cap(inst, snap.last),
        "sharesOutstanding": inst.shares_outstanding,
        "nextEarningDate": next_earnings_date(inst, today).strftime("%m/%d/%Y") if require_earnings else "",
        "beta": inst.beta,
        "yield": dividend_yield(inst, snap.last),
        "declaredDividend": quarterly,
        "dividendPayableDate": eastern_epoch(dividend_payable_date(ex_div)) if ex_div else 0,
        "pe": pe_ratio(inst, snap.last),
        "week52LowDate": int(snap.low52_at.timestamp()),
        "week52HiDate": int(snap.high52_at.timestamp()),
        "intrinsicValue": 0.0,
        "timePremium": 0.0,
        "optionMultiplier": 0.0,
        "contractSize": 0.0,
        "expirationDate": 0,
        "timeOfLastTrade": int(snap.last_trade_at.timestamp()),
        "averageVolume": inst.average_volume,
    }
    if after_hours(snap.phase):
        body["ExtendedHourQuoteDetail"] = _eh_detail(seed, snap)
    return body


def _fundamental(snap: Snapshot) -> dict[str, object]:
    inst = snap.instrument
    return {
        "companyName": inst.company_name,
        "eps": inst.eps,
        "estEarnings": round(inst.eps * 1.08, 4),
        "high52": snap.high52,
        "lastTrade": snap.last,
        "low52": snap.low52,
        "symbolDescription": inst.company_name,
    }


def _intraday(snap: Snapshot) -> dict[str, object]:
    return {
        "ask": snap.ask,
        "bid": snap.bid,
        "changeClose": snap.change,
        "changeClosePercentage": snap.change_pct,
        "companyName": snap.instrument.company_name,
        "high": snap.high,
        "lastTrade": snap.last,
        "low": snap.low,
        "totalVolume": snap.volume,
    }


def _option(snap: Snapshot) -> dict[str, object]:
    # The emulator quotes no option contracts; an equity asked with OPTIONS gets the container
    # with its option-only fields empty.
    return {
        "ask": snap.ask,
        "askSize": snap.ask_size,
        "bid": snap.bid,
        "bidSize": snap.bid_size,
        "companyName": snap.instrument.company_name,
        "daysToExpiration": 0,
        "lastTrade": snap.last,
        "openInterest": 0,
        "optionPreviousBidPrice": 0.0,
        "optionPreviousAskPrice": 0.0,
        "osiKey": "",
        "intrinsicValue": 0.0,
        "timePremium": 0.0,
        "optionMultiplier": 0.0,
        "contractSize": 0.0,
        "symbolDescription": snap.instrument.company_name,
        "OptionGreeks": {
            "rho": 0.0,
            "vega": 0.0,
            "theta": 0.0,
            "delta": 0.0,
            "gamma": 0.0,
            "iv": 0.0,
            "currentValue": False,
        },
    }


def _week52(snap: Snapshot) -> dict[str, object]:
    midpoint = (snap.high52 + snap.low52) / 2
    return {
        "companyName": snap.instrument.company_name,
        "high52": snap.high52,
        "lastTrade": snap.last,
        "low52": snap.low52,
        "perf12Months": round(100.0 * (snap.last / midpoint - 1), 4) if midpoint else 0.0,
        "previousClose": snap.prev_close,
        "symbolDescription": snap.instrument.company_name,
        "totalVolume": snap.volume,
    }


_FUND_FACTS = {
    "VFIAX": ("VANGUARD", 0.04, 3000.0, date(2000, 11, 13)),
    "FXAIX": ("FIDELITY", 0.015, 0.0, date(1988, 2, 17)),
}


def _mutual_fund(snap: Snapshot) -> dict[str, object]:
    inst = snap.instrument
    family, expense, minimum, inception = _FUND_FACTS.get(inst.symbol, ("", 0.0, 0.0, date(2000, 1, 3)))
    as_of = eastern_epoch(snap.session_day)
    return {
        "symbolDescription": inst.company_name,
        "cusip": "",
        "changeClose": snap.change,
        "previousClose": snap.prev_close,
        # A string in E*TRADE's documentation: "an indicator (yes or no) whether or not there
        # is a fee applicable for the security transaction". The bundled funds are no-fee.
        "transactionFee": "N",
        "earlyRedemptionFee": "0",
        "availability": "Open to New Buy and Sell",
        "initialInvestment": minimum,
        "subsequentInvestment": 1.0,
        "fundFamily": family,
        "fundName": inst.company_name,
        "changeClosePercentage": snap.change_pct,
        "timeOfLastTrade": int(snap.last_trade_at.timestamp()),
        "netAssetValue": snap.last,
        "publicOfferPrice": snap.last,
        "netExpenseRatio": expense,
        "grossExpenseRatio": expense,
        "orderCutoffTime": int(session_close(snap.session_day).timestamp()),
        "salesCharge": "",
        "initialIraInvestment": minimum,
        "subsequentIraInvestment": 1.0,
        "NetAssets": {"value": 0.0, "asOfDate": as_of},
        "fundInceptionDate": eastern_epoch(inception),
        "high52": snap.high52,
        "low52": snap.low52,
        "week52LowDate": int(snap.low52_at.timestamp()),
        "week52HiDate": int(snap.high52_at.timestamp()),
        "exchangeName": "MUTUAL FUND",
        "lastTrade": snap.last,
    }


def quote_data(
    snap: Snapshot, flag: str, require_earnings: bool, skip_mini_options: bool, seed: int = 0
) -> dict[str, object]:
    """One ``QuoteData`` entry for ``snap`` with the container ``flag`` asks for.

    ``hasMiniOptions`` (unless skipped) is only on optionable securities, never on a mutual fund.
    """
    data: dict[str, object] = {
        "dateTime": format_eastern(snap.at),
        "dateTimeUTC": int(snap.at.timestamp()),
        "quoteStatus": quote_status(snap.phase),
        # A string on the wire, unlike every other boolean (reference §3.4).
        "ahFlag": "true" if after_hours(snap.phase) else "false",
    }
    if not skip_mini_options and not snap.instrument.is_mutual_fund:
        data["hasMiniOptions"] = False
    if flag == "ALL":
        data["All"] = _all(snap, require_earnings, seed)
    elif flag == "FUNDAMENTAL":
        data["Fundamental"] = _fundamental(snap)
    elif flag == "INTRADAY":
        data["Intraday"] = _intraday(snap)
    elif flag == "OPTIONS":
        data["Option"] = _option(snap)
    elif flag == "WEEK_52":
        data["Week52"] = _week52(snap)
    else:
        data["MutualFund"] = _mutual_fund(snap)
        data["timeZone"] = "ET"
        data["dstFlag"] = bool(snap.at.astimezone(EASTERN).dst())
    data["Product"] = {"symbol": snap.instrument.symbol, "securityType": snap.instrument.security_type}
    return data


def _message(code: int, description: str) -> dict[str, object]:
    return {"description": description, "code": code, "type": "WARNING"}


class MarketApi:
    """Handlers for the Market module (rate-limit module ``market``)."""

    def __init__(self, market: Market, clock: Clock) -> None:
        self.market = market
        self.clock = clock
        self.options = OptionsApi(market, clock)

    def routes(self) -> list[Route]:
        """This module's routes (option chains and expiry dates included)."""
        return [
            Route("quote", "/v1/market/quote/{symbols?}", self.quote, module="market"),
            Route("lookup", "/v1/market/lookup/{search?}", self.lookup, module="market"),
            *self.options.routes(),
        ]

    def _option_quote(self, symbol: str, flag: str, now: datetime) -> dict[str, object] | None:
        """``QuoteData`` of a listed option contract, or None when ``symbol`` names none."""
        contract = parse_option_symbol(symbol)
        if contract is None:
            return None
        inst = universe.get(contract.underlier)
        kind = listed_kind(contract, now)
        if inst is None or inst.is_mutual_fund or kind is None:
            return None
        snap = self.market.observe(inst.symbol, now)
        quote = price_option(self.market.seed, contract, inst, snap, kind)
        container, fields = option_quote_container(quote, flag, format_eastern(now))
        return {
            "dateTime": format_eastern(now),
            "dateTimeUTC": int(now.timestamp()),
            "quoteStatus": quote_status(snap.phase),
            "ahFlag": "false",
            container: fields,
            "Product": option_product(contract),
        }

    def quote(self, request: Request) -> Document:
        """``GET /v1/market/quote/{symbols}``."""
        symbols = [s.strip().upper() for s in request.params.get("symbols", "").split(",") if s.strip()]
        if not symbols:
            raise ApiError.bad_request(errors.QUOTE_INVALID_SYMBOL)
        override = request.bool_param("overrideSymbolCount")
        if len(symbols) > MAX_SYMBOLS_OVERRIDE:
            raise ApiError.bad_request(errors.QUOTE_TOO_MANY_50)
        if len(symbols) > MAX_SYMBOLS and not override:
            raise ApiError.bad_request(errors.QUOTE_TOO_MANY_25)
        flag = (request.param("detailFlag") or "ALL").upper()
        if flag not in DETAIL_CONTAINERS:
            raise ApiError.bad_request(errors.QUOTE_INVALID_DETAIL_FLAG)
        require_earnings = request.bool_param("requireEarningsDate")
        skip_mini = request.bool_param("skipMiniOptionsCheck")
        now = self.clock.now()
        quotes: list[dict[str, object]] = []
        messages: list[dict[str, object]] = []
        not_funds = 0
        for symbol in symbols:
            if ":" in symbol:
                option = None if flag == "MF_DETAIL" else self._option_quote(symbol, flag, now)
                if option is None:
                    messages.append(_message(errors.QUOTE_INVALID_SYMBOL[0], f"{symbol} is not a valid symbol."))
                else:
                    quotes.append(option)
                continue
            inst = universe.get(symbol)
            if inst is None:
                messages.append(_message(errors.QUOTE_INVALID_SYMBOL[0], f"{symbol} is not a valid symbol."))
            elif flag == "MF_DETAIL" and not inst.is_mutual_fund:
                not_funds += 1
                messages.append(_message(errors.QUOTE_NOT_MUTUAL_FUND[0], f"{symbol} is not a mutual fund symbol."))
            else:
                quotes.append(
                    quote_data(self.market.observe(symbol, now), flag, require_earnings, skip_mini, self.market.seed)
                )
        if not quotes:
            raise ApiError.bad_request(errors.QUOTE_NOT_MUTUAL_FUND if not_funds else errors.QUOTE_INVALID_SYMBOL)
        content: dict[str, object] = {"QuoteData": quotes}
        if messages:
            content["Messages"] = {"Message": messages}
        return Document("QuoteResponse", content)

    def lookup(self, request: Request) -> Document:
        """``GET /v1/market/lookup/{search}``: company-name search (also matches a symbol exactly)."""
        search = request.params.get("search", "").strip()
        if not search:
            raise ApiError.bad_request(errors.LOOKUP_MISSING)
        if not _LOOKUP_TEXT.fullmatch(search):
            raise ApiError.bad_request(errors.LOOKUP_INVALID)
        terms = search.upper().split()
        found: list[dict[str, object]] = []
        for inst in universe.UNIVERSE.values():
            words = inst.company_name.split()
            by_name = all(any(word.startswith(term) for word in words) for term in terms)
            if by_name or inst.symbol == search.upper():
                found.append({"symbol": inst.symbol, "description": inst.company_name, "type": inst.lookup_type})
        return Document("LookupResponse", {"Data": found} if found else {})
