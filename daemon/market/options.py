"""Listed options: expiration dates, chains and single option quotes, validated before anything
goes upstream.

Every E*TRADE request goes through the :class:`~daemon.gateway.gateway.EtradeGateway` under the
``market`` rate limit. Expiration dates change once a day, so they are kept for an hour; a chain
is a snapshot of moving prices, kept for :data:`CHAIN_TTL` seconds so that a model paging through
the same chain (or several clients asking at once) costs one request. Both caches are emptied
when a different login comes into use, and nothing is served from them while logged out.

A chain answer is bounded: at most :data:`MAX_STRIKES` strikes (each a call and a put of 22
fields), :data:`DEFAULT_STRIKES` unless asked otherwise.

Option symbols: E*TRADE's quote path names a contract ``ROOT:YYYY:M:D:CALL|PUT:STRIKE`` (the form
its chains put in ``quoteDetail``); callers may also give the OSI key (``AAPL260619C00200000``,
the root optionally padded with spaces or ``-``). Both become E*TRADE's form before the request.
"""

from __future__ import annotations

import math
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from broker_client.errors import ErrorCode, InvalidRequest
from broker_client.symbols import normalize_symbol
from daemon.clock import Clock
from daemon.etrade.etrade_json import as_list, obj, opt_float, opt_int, text, whole
from daemon.etrade.upstream import EtradeApiError
from daemon.gateway.deadline import Deadline
from daemon.gateway.gateway import EtradeGateway
from daemon.market.ttl_cache import CacheStats, TtlCache

EASTERN = ZoneInfo("America/New_York")
CHAIN_TTL = 15.0
EXPIRATIONS_TTL = 3600.0
DEFAULT_STRIKES = 10
MAX_STRIKES = 50
EXPIRY_TYPES = ("ALL", "WEEKLY", "MONTHLY", "QUARTERLY", "DAILY", "VIX", "MONTHEND")
SIDES = {"BOTH": "CALLPUT", "CALLS": "CALL", "PUTS": "PUT"}

_COLON_FORM = re.compile(
    r"^(?P<root>[A-Z][A-Z0-9.]{0,9}):(?P<year>\d{4}):(?P<month>\d{1,2}):(?P<day>\d{1,2}):"
    r"(?P<type>CALL|PUT|C|P):(?P<strike>\d{1,6}(?:\.\d{1,6})?)$"
)
_OSI_FORM = re.compile(r"^(?P<root>[A-Z][A-Z0-9.]{0,5})[ \-]*(?P<ymd>\d{6})(?P<type>[CP])(?P<strike>\d{8})$")
_CHOOSE_CONTRACT = (
    "list the contracts with get_option_chain (`etradectl options chain SYMBOL`) and use a symbol from it"
)
_OPTION_SYMBOL_HINT = (
    "name the contract as ROOT:YEAR:MONTH:DAY:CALL|PUT:STRIKE (e.g. AAPL:2026:6:19:CALL:200) or by its "
    "OSI key (e.g. AAPL260619C00200000); " + _CHOOSE_CONTRACT
)
_SEE_EXPIRATIONS = "list the expirations with get_option_expirations (`etradectl options expirations SYMBOL`)"


@dataclass(frozen=True, slots=True)
class OptionExpiration:
    date: str
    expiry_type: str
    days_to_expiration: int


@dataclass(frozen=True, slots=True)
class OptionExpirations:
    symbol: str
    expirations: tuple[OptionExpiration, ...]


@dataclass(frozen=True, slots=True)
class OptionContract:
    symbol: str
    osi_key: str
    display_symbol: str
    option_type: str
    strike: float
    expiration: str
    bid: float | None = None
    ask: float | None = None
    bid_size: int | None = None
    ask_size: int | None = None
    last: float | None = None
    net_change: float | None = None
    volume: int | None = None
    open_interest: int | None = None
    in_the_money: bool = False
    delta: float | None = None
    gamma: float | None = None
    theta: float | None = None
    vega: float | None = None
    rho: float | None = None
    implied_volatility: float | None = None


@dataclass(frozen=True, slots=True)
class OptionChainRow:
    strike: float
    call: OptionContract | None
    put: OptionContract | None


@dataclass(frozen=True, slots=True)
class OptionChain:
    symbol: str
    expiration: str
    near_price: float
    quote_type: str
    quote_time_unix: int
    rows: tuple[OptionChainRow, ...]
    fetched_at_unix_ms: int


@dataclass(frozen=True, slots=True)
class OptionQuote:
    contract: OptionContract
    underlying: str
    quote_status: str
    quote_time_unix: int
    fetched_at_unix_ms: int
    days_to_expiration: int | None = None
    intrinsic_value: float | None = None
    time_premium: float | None = None
    previous_close: float | None = None


@dataclass(frozen=True, slots=True)
class ContractName:
    """One contract as E*TRADE's quote path names it."""

    root: str
    expiration: date
    call: bool
    strike: float

    @property
    def etrade_symbol(self) -> str:
        kind = "CALL" if self.call else "PUT"
        d = self.expiration
        return f"{self.root}:{d.year}:{d.month}:{d.day}:{kind}:{self.strike:.6f}"


def parse_option_symbol(raw: str) -> ContractName:
    """E*TRADE's colon form or an OSI key; raises InvalidRequest(INVALID_SYMBOL) saying how to name one."""
    symbol = raw.strip().upper() if isinstance(raw, str) else ""
    shown = symbol if len(symbol) <= 40 else symbol[:40] + "…"
    colon = _COLON_FORM.match(symbol)
    try:
        if colon is not None:
            day = date(int(colon["year"]), int(colon["month"]), int(colon["day"]))
            return ContractName(colon["root"], day, colon["type"].startswith("C"), float(colon["strike"]))
        osi = _OSI_FORM.match(symbol)
        if osi is not None:
            ymd = osi["ymd"]
            day = date(2000 + int(ymd[:2]), int(ymd[2:4]), int(ymd[4:]))
            return ContractName(osi["root"], day, osi["type"] == "C", int(osi["strike"]) / 1000)
    except ValueError:
        raise InvalidRequest(
            ErrorCode.INVALID_SYMBOL, f"{shown!r} names a date that does not exist", hint=_OPTION_SYMBOL_HINT
        ) from None
    raise InvalidRequest(ErrorCode.INVALID_SYMBOL, f"{shown!r} is not an option symbol", hint=_OPTION_SYMBOL_HINT)


def _iso(year: Any, month: Any, day: Any) -> str:
    try:
        return date(whole(year), whole(month), whole(day)).isoformat()
    except ValueError:
        return ""


def _contract(raw: Mapping[str, Any], expiration: str) -> OptionContract | None:
    strike = opt_float(raw.get("strikePrice"))
    if strike is None:
        return None
    greeks = obj(raw.get("OptionGreeks"))
    option_type = text(raw.get("optionType")).upper()
    root = text(raw.get("optionRootSymbol") or raw.get("symbol")).upper()
    symbol = ""
    if expiration and root:
        symbol = ContractName(root, date.fromisoformat(expiration), option_type == "CALL", strike).etrade_symbol
    return OptionContract(
        symbol=symbol,
        osi_key=text(raw.get("osiKey")),
        display_symbol=text(raw.get("displaySymbol")),
        option_type=option_type,
        strike=strike,
        expiration=expiration,
        bid=opt_float(raw.get("bid")),
        ask=opt_float(raw.get("ask")),
        bid_size=opt_int(raw.get("bidSize")),
        ask_size=opt_int(raw.get("askSize")),
        last=opt_float(raw.get("lastPrice")),
        net_change=opt_float(raw.get("netChange")),
        volume=opt_int(raw.get("volume")),
        open_interest=opt_int(raw.get("openInterest")),
        in_the_money=text(raw.get("inTheMoney")).lower() == "y",
        delta=opt_float(greeks.get("delta")),
        gamma=opt_float(greeks.get("gamma")),
        theta=opt_float(greeks.get("theta")),
        vega=opt_float(greeks.get("vega")),
        rho=opt_float(greeks.get("rho")),
        implied_volatility=opt_float(greeks.get("iv")),
    )


def parse_chain(payload: Any, symbol: str, fetched_at_unix_ms: int) -> OptionChain:
    """E*TRADE's OptionChainResponse as an :class:`OptionChain` (rows by ascending strike)."""
    body = obj(obj(payload).get("OptionChainResponse"))
    selected = obj(body.get("SelectedED"))
    expiration = _iso(selected.get("year"), selected.get("month"), selected.get("day"))
    rows: dict[float, tuple[OptionContract | None, OptionContract | None]] = {}
    for raw_pair in as_list(body.get("OptionPair")):
        pair = obj(raw_pair)
        call = _contract(obj(pair.get("Call")), expiration) if pair.get("Call") else None
        put = _contract(obj(pair.get("Put")), expiration) if pair.get("Put") else None
        either = call or put
        if either is None:
            continue
        strike = either.strike
        known_call, known_put = rows.get(strike, (None, None))
        rows[strike] = (call or known_call, put or known_put)
    return OptionChain(
        symbol=symbol,
        expiration=expiration,
        near_price=opt_float(body.get("nearPrice")) or 0.0,
        quote_type=text(body.get("quoteType")),
        quote_time_unix=whole(body.get("timeStamp")),
        rows=tuple(OptionChainRow(k, c, p) for k, (c, p) in sorted(rows.items())),
        fetched_at_unix_ms=fetched_at_unix_ms,
    )


class OptionsData:
    """Option expirations, chains and quotes for the daemon's clients."""

    def __init__(
        self,
        gateway: EtradeGateway,
        clock: Clock,
        *,
        chain_ttl: float = CHAIN_TTL,
        expirations_ttl: float = EXPIRATIONS_TTL,
    ) -> None:
        self._gateway = gateway
        self._clock = clock
        self._expirations: TtlCache[tuple[str, str], OptionExpirations] = TtlCache(
            "option_expirations", clock, expirations_ttl
        )
        self._chains: TtlCache[tuple[object, ...], OptionChain] = TtlCache("option_chains", clock, chain_ttl)
        gateway.on_new_session(self._forget)

    def _forget(self) -> None:
        self._expirations.invalidate()
        self._chains.invalidate()

    def cache_stats(self) -> list[CacheStats]:
        """Counters of both caches (for status views and tests)."""
        return [self._expirations.stats(), self._chains.stats()]

    def _today(self) -> date:
        return datetime.fromtimestamp(self._clock.now(), EASTERN).date()

    async def _get(self, path: str, params: Mapping[str, str], deadline: Deadline, symbol: str) -> Any:
        try:
            return await self._gateway.get_json("market", path, params, deadline)
        except EtradeApiError as exc:
            raise _translate(exc, symbol) from None

    async def expirations(
        self, raw_symbol: str, expiry_type: str = "", *, deadline: Deadline | None = None
    ) -> OptionExpirations:
        """The expiration dates of ``raw_symbol``'s options, nearest first."""
        symbol = normalize_symbol(raw_symbol)
        kind = (expiry_type or "ALL").strip().upper()
        if kind not in EXPIRY_TYPES:
            raise InvalidRequest(
                ErrorCode.INVALID_ARGUMENT,
                f"unknown expiration type {expiry_type!r}",
                hint=f"use one of {', '.join(EXPIRY_TYPES)} (or leave it empty for all)",
            )
        await self._gateway.require_session()
        wait = deadline or Deadline.after(None)

        async def load() -> OptionExpirations:
            payload = await self._get(
                "/v1/market/optionexpiredate", {"symbol": symbol, "expiryType": kind}, wait, symbol
            )
            today = self._today()
            found = []
            for raw in as_list(obj(obj(payload).get("OptionExpireDateResponse")).get("ExpirationDate")):
                entry = obj(raw)
                iso = _iso(entry.get("year"), entry.get("month"), entry.get("day"))
                if iso:
                    days = (date.fromisoformat(iso) - today).days
                    found.append(OptionExpiration(iso, text(entry.get("expiryType")), days))
            found.sort(key=lambda e: e.date)
            return OptionExpirations(symbol, tuple(found))

        return await self._expirations.get((symbol, kind), load)

    async def chain(
        self,
        raw_symbol: str,
        *,
        expiration: str = "",
        strike_near: float | None = None,
        strike_count: int = 0,
        side: str = "BOTH",
        include_weeklies: bool = False,
        deadline: Deadline | None = None,
    ) -> OptionChain:
        """One expiration's chain: ``strike_count`` strikes (default 10, at most 50) nearest
        ``strike_near`` (default the underlying's price), calls and/or puts."""
        symbol = normalize_symbol(raw_symbol)
        params = {"symbol": symbol, "chainType": SIDES.get(side, ""), "includeWeekly": str(include_weeklies).lower()}
        if not params["chainType"]:
            raise InvalidRequest(ErrorCode.INVALID_ARGUMENT, f"unknown side {side!r}", hint="use BOTH, CALLS or PUTS")
        count = strike_count or DEFAULT_STRIKES
        if not 1 <= count <= MAX_STRIKES:
            raise InvalidRequest(
                ErrorCode.INVALID_ARGUMENT,
                f"{strike_count} strikes were asked for",
                hint=f"ask for 1-{MAX_STRIKES} strikes (default {DEFAULT_STRIKES})",
            )
        params["noOfStrikes"] = str(count)
        if strike_near is not None:
            if not math.isfinite(strike_near) or strike_near <= 0:
                raise InvalidRequest(
                    ErrorCode.INVALID_ARGUMENT,
                    f"strike_near must be a positive price, not {strike_near}",
                    hint="give a price such as 200, or leave it out to center on the last price",
                )
            params["strikePriceNear"] = f"{strike_near:g}"
        if expiration:
            try:
                day = date.fromisoformat(expiration.strip())
            except ValueError:
                raise InvalidRequest(
                    ErrorCode.INVALID_ARGUMENT,
                    f"{expiration!r} is not a date",
                    hint="give the expiration as YYYY-MM-DD, e.g. 2026-06-19; " + _SEE_EXPIRATIONS,
                ) from None
            params.update(expiryYear=str(day.year), expiryMonth=str(day.month), expiryDay=str(day.day))
        await self._gateway.require_session()
        wait = deadline or Deadline.after(None)

        async def load() -> OptionChain:
            payload = await self._get("/v1/market/optionchains", params, wait, symbol)
            return parse_chain(payload, symbol, int(self._clock.now() * 1000))

        return await self._chains.get(tuple(sorted(params.items())), load)

    async def quote(self, raw_symbol: str, *, deadline: Deadline | None = None) -> OptionQuote:
        """The quote of one contract named by E*TRADE's option symbol or its OSI key."""
        name = parse_option_symbol(raw_symbol)
        normalize_symbol(name.root)
        await self._gateway.require_session()
        path = "/v1/market/quote/" + urllib.parse.quote(name.etrade_symbol, safe=":.")
        try:
            payload = await self._gateway.get_json(
                "market", path, {"detailFlag": "ALL"}, deadline or Deadline.after(None)
            )
        except EtradeApiError as exc:
            if exc.etrade_code in (1019, 1002):
                raise _no_contract(name) from None
            raise
        data = [obj(q) for q in as_list(obj(obj(payload).get("QuoteResponse")).get("QuoteData"))]
        if not data:
            raise _no_contract(name)
        raw = data[0]
        detail = obj(raw.get("All")) or obj(raw.get("Option"))
        product = obj(raw.get("Product"))
        expiration = name.expiration.isoformat()
        contract = OptionContract(
            symbol=name.etrade_symbol,
            osi_key=text(detail.get("osiKey")),
            display_symbol=text(detail.get("symbolDescription") or detail.get("companyName")),
            option_type=text(product.get("callPut")).upper() or ("CALL" if name.call else "PUT"),
            strike=opt_float(product.get("strikePrice")) or name.strike,
            expiration=expiration,
            bid=opt_float(detail.get("bid")),
            ask=opt_float(detail.get("ask")),
            bid_size=opt_int(detail.get("bidSize")),
            ask_size=opt_int(detail.get("askSize")),
            last=opt_float(detail.get("lastTrade")),
            net_change=opt_float(detail.get("changeClose")),
            volume=opt_int(detail.get("totalVolume")),
            open_interest=opt_int(detail.get("openInterest")),
            in_the_money=(opt_float(detail.get("intrinsicValue")) or 0.0) > 0,
            delta=opt_float(obj(detail.get("OptionGreeks")).get("delta")),
            gamma=opt_float(obj(detail.get("OptionGreeks")).get("gamma")),
            theta=opt_float(obj(detail.get("OptionGreeks")).get("theta")),
            vega=opt_float(obj(detail.get("OptionGreeks")).get("vega")),
            rho=opt_float(obj(detail.get("OptionGreeks")).get("rho")),
            implied_volatility=opt_float(obj(detail.get("OptionGreeks")).get("iv")),
        )
        return OptionQuote(
            contract=contract,
            underlying=text(product.get("symbol") or name.root).upper(),
            quote_status=text(raw.get("quoteStatus")),
            quote_time_unix=whole(raw.get("dateTimeUTC")),
            fetched_at_unix_ms=int(self._clock.now() * 1000),
            days_to_expiration=opt_int(detail.get("daysToExpiration")),
            intrinsic_value=opt_float(detail.get("intrinsicValue")),
            time_premium=opt_float(detail.get("timePremium")),
            previous_close=opt_float(detail.get("previousClose")),
        )


def _no_contract(name: ContractName) -> InvalidRequest:
    return InvalidRequest(
        ErrorCode.INVALID_SYMBOL,
        f"E*TRADE lists no option contract {name.etrade_symbol}",
        hint=_CHOOSE_CONTRACT,
    )


def _translate(exc: EtradeApiError, symbol: str) -> InvalidRequest | EtradeApiError:
    """E*TRADE's documented option errors as the daemon's vocabulary, each with its next step."""
    code = exc.etrade_code
    if code in (10033, 10034, 10043):
        return InvalidRequest(
            ErrorCode.INVALID_SYMBOL,
            f"E*TRADE does not know the symbol {symbol}",
            hint="check the symbol; lookup_symbol (`etradectl lookup NAME`) finds it from a company name",
        )
    if code == 10032:
        return InvalidRequest(
            ErrorCode.INVALID_ARGUMENT,
            f"{symbol} has no listed options",
            hint="options exist for stocks and ETFs, not for mutual funds; pick another underlying",
        )
    if code in (10031, 10037, 10039, 10044):
        return InvalidRequest(
            ErrorCode.INVALID_ARGUMENT,
            f"no {symbol} options expire on the date asked ({exc.etrade_message})",
            hint=_SEE_EXPIRATIONS + " and pick one of them",
        )
    return exc
