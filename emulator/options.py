"""The ``/v1/market/optionexpiredate`` and ``/v1/market/optionchains`` endpoints: request
parsing, E*TRADE's documented error codes (mutual funds have no options: 10032) and the documents;
the calendar, strikes and prices come from emulator/option_pricing.py.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime

from emulator import universe
from emulator.clock import EASTERN, Clock
from emulator.errors import ApiError
from emulator.market import Market, quote_status
from emulator.option_pricing import (
    ATNM_STRIKES,
    CONTRACT_MULTIPLIER,
    EXPIRY_TYPES,
    MAX_STRIKES,
    Expiry,
    OptionContract,
    OptionQuote,
    display_symbol,
    expiries,
    expiry_moment,
    greeks_json,
    osi_key,
    price_option,
    quote_symbol,
    strike_grid,
)
from emulator.routing import Document, Request, Route
from emulator.universe import Instrument

# Documented Market API error codes for option chains and expiry dates (reference §2.2).
NO_OPTIONS_FOR_MONTH = (10031, "There are no options for the given month.")
NO_OPTIONS_FOR_SYMBOL = (10032, "No options are available for this symbol.")
INVALID_SYMBOL = (10033, "The Symbol entered is invalid. Please enter another symbol.")
MINI_NOT_AVAILABLE = (10038, "Mini options not available for this symbol.")
INVALID_EXPIRY = (10039, "Please provide valid expiration date.")
INVALID_OPTION_TYPE = (10042, "Please provide a valid option type.")
MISSING_SYMBOL = (10043, "Missing symbol. Please enter valid symbol.")
NO_OPTIONS_FOR_DATE = (10044, "There are no options available for the given symbol or expiration date.")


def option_details(quote: OptionQuote, request: Request) -> dict[str, object]:
    """One ``Call`` or ``Put`` of an ``OptionPair`` (E*TRADE's OptionDetails)."""
    c = quote.contract
    detail_path = f"/v1/market/quote/{quote_symbol(c.underlier, c.expiry, c.call, c.strike)}{request.json_suffix}"
    return {
        "optionCategory": "STANDARD",
        "optionRootSymbol": c.underlier,
        "timeStamp": int(quote.underlying.at.timestamp()),
        "adjustedFlag": False,
        "displaySymbol": display_symbol(c.underlier, c.expiry, c.call, c.strike),
        "optionType": "CALL" if c.call else "PUT",
        "strikePrice": c.strike,
        "symbol": c.underlier,
        "bid": quote.bid,
        "ask": quote.ask,
        "bidSize": quote.bid_size,
        "askSize": quote.ask_size,
        "inTheMoney": "y" if quote.in_the_money else "n",
        "volume": quote.volume,
        "openInterest": quote.open_interest,
        "netChange": quote.net_change,
        "lastPrice": quote.last,
        "quoteDetail": request.base_url + detail_path,
        "osiKey": osi_key(c.underlier, c.expiry, c.call, c.strike),
        "OptionGreeks": greeks_json(quote),
    }


def _int_param(request: Request, name: str, low: int, high: int) -> int | None:
    raw = request.param(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ApiError.bad_request(INVALID_EXPIRY) from None
    if not low <= value <= high:
        raise ApiError.bad_request(INVALID_EXPIRY)
    return value


def _choice(request: Request, name: str, allowed: tuple[str, ...], default: str) -> str:
    raw = (request.param(name) or default).upper()
    if raw not in allowed:
        raise ApiError.invalid_parameter(name)
    return raw


class OptionsApi:
    """``/v1/market/optionexpiredate`` and ``/v1/market/optionchains`` (module ``market``)."""

    def __init__(self, market: Market, clock: Clock) -> None:
        self.market = market
        self.clock = clock

    def routes(self) -> list[Route]:
        """This module's routes."""
        return [
            Route("option_expire_dates", "/v1/market/optionexpiredate", self.expire_dates, module="market"),
            Route("option_chains", "/v1/market/optionchains", self.chains, module="market"),
        ]

    def _underlier(self, request: Request) -> Instrument:
        symbol = (request.param("symbol") or "").strip().upper()
        if not symbol:
            raise ApiError.bad_request(MISSING_SYMBOL)
        inst = universe.get(symbol)
        if inst is None:
            raise ApiError.bad_request(INVALID_SYMBOL)
        if inst.is_mutual_fund:
            raise ApiError.bad_request(NO_OPTIONS_FOR_SYMBOL)
        return inst

    def expire_dates(self, request: Request) -> Document:
        """``GET /v1/market/optionexpiredate?symbol=S[&expiryType=T]``.

        ``expiryType`` ALL, UNSPECIFIED or absent lists every expiry; WEEKLY and MONTHLY filter;
        the other documented types (DAILY, QUARTERLY, VIX, MONTHEND) are not listed for the
        emulator's symbols and answer 10044.
        """
        self._underlier(request)
        wanted = _choice(request, "expiryType", EXPIRY_TYPES, "ALL")
        listed = expiries(self.clock.now())
        if wanted not in ("ALL", "UNSPECIFIED"):
            listed = [e for e in listed if e.kind == wanted]
        if not listed:
            raise ApiError.bad_request(NO_OPTIONS_FOR_DATE)
        dates = [{"year": e.day.year, "month": e.day.month, "day": e.day.day, "expiryType": e.kind} for e in listed]
        return Document("OptionExpireDateResponse", {"ExpirationDate": dates})

    def _select_expiry(self, request: Request, listed: list[Expiry], include_weekly: bool) -> Expiry:
        year = _int_param(request, "expiryYear", 1900, 2999)
        month = _int_param(request, "expiryMonth", 1, 12)
        day = _int_param(request, "expiryDay", 1, 31)
        if year is None and month is None and day is None:
            candidates = listed if include_weekly else [e for e in listed if e.kind == "MONTHLY"]
            return candidates[0]
        if year is None or month is None:
            raise ApiError.bad_request(INVALID_EXPIRY)
        if day is not None:
            try:
                wanted = date(year, month, day)
            except ValueError:
                raise ApiError.bad_request(INVALID_EXPIRY) from None
            found = next((e for e in listed if e.day == wanted), None)
            if found is None:
                raise ApiError.bad_request(NO_OPTIONS_FOR_DATE)
            return found
        in_month = [e for e in listed if (e.day.year, e.day.month) == (year, month)]
        monthly = [e for e in in_month if e.kind == "MONTHLY"]
        if monthly:
            return monthly[0]
        if include_weekly and in_month:
            return in_month[0]
        raise ApiError.bad_request(NO_OPTIONS_FOR_MONTH)

    def chains(self, request: Request) -> Document:
        """``GET /v1/market/optionchains?symbol=S&…`` with E*TRADE's documented parameters.

        Expiry: exact ``expiryYear``/``expiryMonth``/``expiryDay``; year and month alone pick
        that month's standard (monthly) expiry; nothing picks the nearest monthly, or the
        nearest expiry of any kind with ``includeWeekly=true``. Strikes: the ``noOfStrikes``
        strikes nearest ``strikePriceNear`` (default the underlying's last price), in ascending
        order; without ``noOfStrikes``, ``priceType=ATNM`` (default) gives the 10 nearest and
        ``ALL`` the whole grid.
        """
        inst = self._underlier(request)
        include_weekly = request.bool_param("includeWeekly")
        request.bool_param("skipAdjusted", default=True)  # no adjusted contracts exist here
        category = _choice(request, "optionCategory", ("STANDARD", "ALL", "MINI"), "STANDARD")
        if category == "MINI":
            raise ApiError.bad_request(MINI_NOT_AVAILABLE)
        raw_chain = (request.param("chainType") or "CALLPUT").upper()
        if raw_chain not in ("CALL", "PUT", "CALLPUT"):
            raise ApiError.bad_request(INVALID_OPTION_TYPE)
        price_type = _choice(request, "priceType", ("ATNM", "ALL"), "ATNM")
        count = self._strike_count(request)
        near = self._near(request)
        now = self.clock.now()
        expiry = self._select_expiry(request, expiries(now), include_weekly)
        snap = self.market.observe(inst.symbol, now)
        grid = strike_grid(snap.last)
        target = near if near is not None else snap.last
        if count is None and price_type == "ALL":
            strikes = grid
        else:
            wanted = count if count is not None else ATNM_STRIKES
            # Ties go to the higher strike, as in E*TRADE's example (near 200, two strikes: 200 and 205).
            strikes = sorted(sorted(grid, key=lambda k: (abs(k - target), -k))[:wanted])
        pairs: list[dict[str, object]] = []
        seed = self.market.seed
        for strike in strikes:
            pair: dict[str, object] = {}
            for call, name in ((True, "Call"), (False, "Put")):
                if raw_chain == "CALLPUT" or (raw_chain == "CALL") == call:
                    contract = OptionContract(inst.symbol, expiry.day, call, strike)
                    pair[name] = option_details(price_option(seed, contract, inst, snap, expiry.kind), request)
            pair["pairType"] = {"CALL": "CALLONLY", "PUT": "PUTONLY"}.get(raw_chain, "CALLPUT")
            pairs.append(pair)
        near_strike = min(grid, key=lambda k: (abs(k - target), -k))
        content: dict[str, object] = {
            "OptionPair": pairs,
            "timeStamp": int(now.timestamp()),
            "quoteType": quote_status(snap.phase),
            "nearPrice": near_strike,
            "SelectedED": {"day": expiry.day.day, "month": expiry.day.month, "year": expiry.day.year},
        }
        return Document("OptionChainResponse", content)

    @staticmethod
    def _strike_count(request: Request) -> int | None:
        raw = request.param("noOfStrikes")
        if raw is None or raw == "":
            return None
        try:
            value = int(raw)
        except ValueError:
            raise ApiError.invalid_parameter("noOfStrikes") from None
        if not 1 <= value <= MAX_STRIKES:
            raise ApiError.invalid_parameter("noOfStrikes")
        return value

    @staticmethod
    def _near(request: Request) -> float | None:
        raw = request.param("strikePriceNear")
        if raw is None or raw == "":
            return None
        try:
            value = float(raw)
        except ValueError:
            raise ApiError.invalid_parameter("strikePriceNear") from None
        if not math.isfinite(value) or value <= 0:
            raise ApiError.invalid_parameter("strikePriceNear")
        return value


def listed_kind(contract: OptionContract, now: datetime) -> str | None:
    """The expiry kind (WEEKLY/MONTHLY) when ``contract`` is listed at ``now``, else None.

    Strikes are accepted on any multiple of 0.5: the grid follows the underlying, and a contract
    seen in a chain a moment ago must still quote after the price moved.
    """
    if contract.strike <= 0 or abs(contract.strike * 2 - round(contract.strike * 2)) > 1e-9:
        return None
    return next((e.kind for e in expiries(now) if e.day == contract.expiry), None)


def option_product(contract: OptionContract) -> dict[str, object]:
    """The ``Product`` of an option (the order API's option-leg fields)."""
    return {
        "symbol": contract.underlier,
        "securityType": "OPTN",
        "callPut": "CALL" if contract.call else "PUT",
        "expiryYear": contract.expiry.year,
        "expiryMonth": contract.expiry.month,
        "expiryDay": contract.expiry.day,
        "strikePrice": contract.strike,
    }


def option_quote_container(quote: OptionQuote, flag: str, stamp: str) -> tuple[str, dict[str, object]]:
    """The detail container (name, fields) of an option's ``QuoteData`` for ``flag``."""
    c, snap = quote.contract, quote.underlying
    name = display_symbol(c.underlier, c.expiry, c.call, c.strike)
    days = max(0, (c.expiry - snap.at.astimezone(EASTERN).date()).days)
    time_premium = round(max(0.0, quote.last - quote.intrinsic), 2)
    prev = round(quote.last - quote.net_change, 2)
    pct = round(100.0 * quote.net_change / prev, 4) if prev else 0.0
    if flag == "OPTIONS":
        return "Option", {
            "ask": quote.ask,
            "askSize": quote.ask_size,
            "bid": quote.bid,
            "bidSize": quote.bid_size,
            "companyName": name,
            "daysToExpiration": days,
            "lastTrade": quote.last,
            "openInterest": quote.open_interest,
            "optionPreviousBidPrice": max(0.0, round(quote.bid - quote.net_change, 2)),
            "optionPreviousAskPrice": max(0.0, round(quote.ask - quote.net_change, 2)),
            "osiKey": osi_key(c.underlier, c.expiry, c.call, c.strike),
            "intrinsicValue": quote.intrinsic,
            "timePremium": time_premium,
            "optionMultiplier": float(CONTRACT_MULTIPLIER),
            "contractSize": float(CONTRACT_MULTIPLIER),
            "symbolDescription": name,
            "OptionGreeks": greeks_json(quote),
        }
    if flag != "ALL":
        container = {"FUNDAMENTAL": "Fundamental", "INTRADAY": "Intraday", "WEEK_52": "Week52"}[flag]
        return container, {
            "ask": quote.ask,
            "bid": quote.bid,
            "changeClose": quote.net_change,
            "changeClosePercentage": pct,
            "companyName": name,
            "lastTrade": quote.last,
            "previousClose": prev,
            "symbolDescription": name,
            "totalVolume": quote.volume,
        }
    return "All", {
        "adjustedFlag": False,
        "ask": quote.ask,
        "askSize": quote.ask_size,
        "askTime": stamp,
        "bid": quote.bid,
        "bidExchange": "",
        "bidSize": quote.bid_size,
        "bidTime": stamp,
        "changeClose": quote.net_change,
        "changeClosePercentage": pct,
        "companyName": name,
        "daysToExpiration": days,
        "dirLast": "2" if quote.net_change < 0 else "1",
        "lastTrade": quote.last,
        "openInterest": quote.open_interest,
        "optionStyle": "AMERICAN",
        "optionUnderlier": c.underlier,
        "previousClose": prev,
        "primaryExchange": "OPRA",
        "symbolDescription": name,
        "totalVolume": quote.volume,
        "intrinsicValue": quote.intrinsic,
        "timePremium": time_premium,
        "optionMultiplier": float(CONTRACT_MULTIPLIER),
        "contractSize": float(CONTRACT_MULTIPLIER),
        "expirationDate": expiration_epoch(c.expiry),
        "timeOfLastTrade": int(snap.last_trade_at.timestamp()),
        "osiKey": osi_key(c.underlier, c.expiry, c.call, c.strike),
        "OptionGreeks": greeks_json(quote),
    }


def expiration_epoch(day: date) -> int:
    """Epoch seconds of the expiry's close, as E*TRADE's ``expirationDate``."""
    return int(expiry_moment(day).astimezone(UTC).timestamp())
