"""Listed equity options: expiry calendar, strike grid, Black-Scholes prices and greeks, and the
``/v1/market/optionexpiredate`` and ``/v1/market/optionchains`` endpoints.

Every stock and ETF in the universe has options; mutual funds have none (10032). The calendar is
derived from the emulator clock: weeklies expire on each of the next six Fridays, monthlies on
the third Friday of each of the next nine months, plus January LEAPS of the next two years. An
expiry lasts until 16:00 ET on its day. Exchange holidays are not modelled (like the market).

Prices are theoretical Black-Scholes values of the underlying's current snapshot (so they move
with the underlying on the emulator clock), with a smile on the implied volatility; bid/ask,
sizes, volume and open interest are deterministic functions of the seed, the contract and the
instant. Nothing here draws from the underlying's random walk, so asking for a chain never
changes a quote.

Black-Scholes is written out with ``math.erf`` rather than pulling in SciPy for one function.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from emulator import universe
from emulator.clock import EASTERN, Clock, as_utc
from emulator.errors import ApiError
from emulator.market import Market, Phase, Snapshot, quote_status, session_close
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

#: Risk-free rate of the pricing model (annual, continuously compounded).
RISK_FREE_RATE = 0.04
#: Strikes returned by priceType=ATNM (the default) when noOfStrikes is not given.
ATNM_STRIKES = 10
#: Largest noOfStrikes honoured; E*TRADE documents no limit, the grid is rarely this wide.
MAX_STRIKES = 200
WEEKLY_COUNT = 6
MONTHLY_COUNT = 9
LEAPS_YEARS = 2
CONTRACT_MULTIPLIER = 100
EXPIRY_TYPES = ("UNSPECIFIED", "DAILY", "WEEKLY", "MONTHLY", "QUARTERLY", "VIX", "ALL", "MONTHEND")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _unit(*parts: object) -> float:
    """A deterministic number in [0, 1) from ``parts`` (independent of Python's hash salt)."""
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _norm_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _norm_pdf(x: float) -> float:
    return math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


@dataclass(frozen=True)
class Greeks:
    """Black-Scholes value and sensitivities, in E*TRADE's units.

    ``theta`` is per calendar day, ``vega`` per volatility point (0.01), ``rho`` per rate point.
    """

    value: float
    delta: float
    gamma: float
    theta: float
    vega: float
    rho: float


def black_scholes(
    call: bool, spot: float, strike: float, years: float, vol: float, rate: float, carry: float
) -> Greeks:
    """European Black-Scholes-Merton with continuous dividend yield ``carry``.

    At or past expiry (``years`` <= 0) the value is the intrinsic value and the greeks are those
    of the payoff (delta 1/0/-1, everything else 0).
    """
    if years <= 0 or vol <= 0:
        intrinsic = max(0.0, spot - strike) if call else max(0.0, strike - spot)
        delta = (1.0 if spot > strike else 0.0) if call else (-1.0 if spot < strike else 0.0)
        return Greeks(intrinsic, delta, 0.0, 0.0, 0.0, 0.0)
    root = math.sqrt(years)
    d1 = (math.log(spot / strike) + (rate - carry + vol * vol / 2) * years) / (vol * root)
    d2 = d1 - vol * root
    disc_r, disc_q = math.exp(-rate * years), math.exp(-carry * years)
    gamma = disc_q * _norm_pdf(d1) / (spot * vol * root)
    vega = spot * disc_q * _norm_pdf(d1) * root / 100
    decay = -spot * disc_q * _norm_pdf(d1) * vol / (2 * root)
    if call:
        value = spot * disc_q * _norm_cdf(d1) - strike * disc_r * _norm_cdf(d2)
        delta = disc_q * _norm_cdf(d1)
        theta = decay - rate * strike * disc_r * _norm_cdf(d2) + carry * spot * disc_q * _norm_cdf(d1)
        rho = strike * years * disc_r * _norm_cdf(d2) / 100
    else:
        value = strike * disc_r * _norm_cdf(-d2) - spot * disc_q * _norm_cdf(-d1)
        delta = -disc_q * _norm_cdf(-d1)
        theta = decay + rate * strike * disc_r * _norm_cdf(-d2) - carry * spot * disc_q * _norm_cdf(-d1)
        rho = -strike * years * disc_r * _norm_cdf(-d2) / 100
    return Greeks(max(value, 0.0), delta, gamma, theta / 365, vega, rho)


# -- the calendar ---------------------------------------------------------------------------
def third_friday(year: int, month: int) -> date:
    """The standard monthly expiry: the third Friday of the month."""
    first = date(year, month, 1)
    return first + timedelta(days=(4 - first.weekday()) % 7 + 14)


def expiry_moment(day: date) -> datetime:
    """When a contract expiring on ``day`` stops trading: 16:00 ET."""
    return session_close(day)


@dataclass(frozen=True)
class Expiry:
    """One listed expiration date."""

    day: date
    #: WEEKLY or MONTHLY (E*TRADE's expiryType).
    kind: str


def expiries(now: datetime) -> list[Expiry]:
    """Every listed expiry after ``now``, in date order (weeklies, monthlies, January LEAPS)."""
    today = as_utc(now).astimezone(EASTERN).date()
    monthly: set[date] = set()
    year, month = today.year, today.month
    while len(monthly) < MONTHLY_COUNT:
        day = third_friday(year, month)
        if expiry_moment(day) > now:
            monthly.add(day)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    for extra in range(1, LEAPS_YEARS + 1):
        monthly.add(third_friday(today.year + extra, 1))
    weekly: set[date] = set()
    friday = today + timedelta(days=(4 - today.weekday()) % 7)
    while len(weekly) < WEEKLY_COUNT:
        if expiry_moment(friday) > now and friday not in monthly:
            weekly.add(friday)
        friday += timedelta(days=7)
    listed = [Expiry(d, "MONTHLY") for d in monthly] + [Expiry(d, "WEEKLY") for d in weekly]
    return sorted(listed, key=lambda e: e.day)


# -- strikes and contracts -------------------------------------------------------------------
def strike_interval(price: float) -> float:
    """Listed strike spacing for an underlying trading at ``price``."""
    for limit, step in ((5, 0.5), (25, 1.0), (100, 2.5), (500, 5.0), (1000, 10.0)):
        if price < limit:
            return step
    return 50.0


def strike_grid(price: float) -> list[float]:
    """Listed strikes: multiples of the interval from 50% to 150% of the price."""
    step = strike_interval(price)
    low = max(step, math.floor(price * 0.5 / step) * step)
    high = math.ceil(price * 1.5 / step) * step
    count = round((high - low) / step)
    return [round(low + i * step, 2) for i in range(count + 1)]


def implied_vol(inst: Instrument, spot: float, strike: float, years: float) -> float:
    """The underlying's volatility with a skew and smile, higher for short-dated wings."""
    moneyness = math.log(strike / spot) / max(math.sqrt(max(years, 1 / 365)), 0.1)
    smile = 1.0 - 0.12 * moneyness + 0.06 * moneyness * moneyness
    return round(min(3.0, max(0.05, inst.volatility * smile)), 4)


def format_strike(strike: float) -> str:
    """``200`` or ``232.5``: how E*TRADE's display symbols show a strike."""
    return f"{strike:.2f}".rstrip("0").rstrip(".")


def osi_key(root: str, day: date, call: bool, strike: float) -> str:
    """OSI symbology: root padded with '-' to 6, YYMMDD, C/P, strike x1000 as 8 digits."""
    clean = root.replace(".", "")
    return f"{clean:-<6}{day:%y%m%d}{'C' if call else 'P'}{round(strike * 1000):08d}"


def display_symbol(root: str, day: date, call: bool, strike: float) -> str:
    """E*TRADE's display form, e.g. ``IBM Aug 17 '18 $200 Call``."""
    return (
        f"{root} {_MONTHS[day.month - 1]} {day.day:02d} '{day:%y} ${format_strike(strike)} {'Call' if call else 'Put'}"
    )


def quote_symbol(root: str, day: date, call: bool, strike: float) -> str:
    """The quote-path form E*TRADE's ``quoteDetail`` uses: ``IBM:2018:8:17:CALL:200.000000``."""
    return f"{root}:{day.year}:{day.month}:{day.day}:{'CALL' if call else 'PUT'}:{strike:.6f}"


@dataclass(frozen=True)
class OptionContract:
    """One contract identified the way E*TRADE's quote path names it."""

    underlier: str
    expiry: date
    call: bool
    strike: float


_OPTION_SYMBOL = re.compile(
    r"^(?P<root>[A-Z][A-Z0-9.]{0,9}):(?P<year>\d{4}):(?P<month>\d{1,2}):(?P<day>\d{1,2}):"
    r"(?P<type>CALL|PUT|C|P):(?P<strike>\d{1,6}(?:\.\d{1,6})?)$"
)


def parse_option_symbol(symbol: str) -> OptionContract | None:
    """``IBM:2018:8:17:CALL:200.000000`` (E*TRADE's documented form; ``C``/``P`` and zero-padded
    month/day are accepted too) as a contract, or None when ``symbol`` is not in that form."""
    found = _OPTION_SYMBOL.match(symbol.strip().upper())
    if found is None:
        return None
    try:
        day = date(int(found["year"]), int(found["month"]), int(found["day"]))
    except ValueError:
        return None
    return OptionContract(found["root"], day, found["type"].startswith("C"), round(float(found["strike"]), 3))


@dataclass(frozen=True)
class OptionQuote:
    """Everything the chain and the quote endpoints show for one contract at one instant."""

    contract: OptionContract
    instrument: Instrument
    underlying: Snapshot
    kind: str
    years: float
    iv: float
    greeks: Greeks
    bid: float
    ask: float
    bid_size: int
    ask_size: int
    last: float
    net_change: float
    volume: int
    open_interest: int

    @property
    def in_the_money(self) -> bool:
        """Calls above, puts below the strike (E*TRADE's ``inTheMoney`` y/n)."""
        spot, strike = self.underlying.last, self.contract.strike
        return spot > strike if self.contract.call else spot < strike

    @property
    def intrinsic(self) -> float:
        spot, strike = self.underlying.last, self.contract.strike
        return round(max(0.0, spot - strike) if self.contract.call else max(0.0, strike - spot), 2)


def _theoretical(inst: Instrument, call: bool, spot: float, strike: float, years: float) -> tuple[float, Greeks]:
    iv = implied_vol(inst, spot, strike, years)
    carry = inst.annual_dividend / spot if spot > 0 else 0.0
    return iv, black_scholes(call, spot, strike, years, iv, RISK_FREE_RATE, carry)


def price_option(seed: int, contract: OptionContract, inst: Instrument, snap: Snapshot, kind: str) -> OptionQuote:
    """The contract's quote given the underlying's snapshot ``snap`` (deterministic)."""
    at = snap.at
    years = max(0.0, (expiry_moment(contract.expiry) - at).total_seconds() / (365.0 * 86400))
    iv, greeks = _theoretical(inst, contract.call, snap.last, contract.strike, years)
    theo = greeks.value
    # Previous close: the same contract a day longer-dated, on the underlying's previous close.
    _, before = _theoretical(inst, contract.call, snap.prev_close, contract.strike, years + 1 / 365)
    tick = 0.01 if theo < 3 else 0.05
    half = max(0.01, theo * 0.03) / 2
    bid = max(0.0, math.floor((theo - half) / tick) * tick)
    ask = max(tick, math.ceil((theo + half) / tick) * tick)
    key = (seed, contract.underlier, contract.expiry.isoformat(), contract.call, contract.strike)
    minute = int(at.timestamp()) // 60
    bid_size = 1 + int(_unit(*key, "bid", minute) * 150)
    ask_size = 1 + int(_unit(*key, "ask", minute) * 150)
    distance = abs(math.log(contract.strike / snap.last)) if snap.last > 0 else 1.0
    liquidity = math.exp(-12 * distance) * (inst.average_volume / 1_000_000 + 1)
    open_interest = int(liquidity * 4000 * (0.5 + _unit(*key, "oi")))
    fraction = _session_fraction(snap)
    volume = int(liquidity * 1500 * (0.3 + _unit(*key, "volume", snap.session_day.isoformat())) * fraction)
    last = round(theo, 2)
    return OptionQuote(
        contract=contract,
        instrument=inst,
        underlying=snap,
        kind=kind,
        years=years,
        iv=iv,
        greeks=greeks,
        bid=round(bid, 2),
        ask=round(ask, 2),
        bid_size=bid_size if bid > 0 else 0,
        ask_size=ask_size,
        last=last,
        net_change=round(last - round(before.value, 2), 2),
        volume=volume,
        open_interest=open_interest,
    )


def _session_fraction(snap: Snapshot) -> float:
    """How much of the shown session has traded (0 pre-market, 1 after the close)."""
    if snap.phase is Phase.PRE_MARKET:
        return 0.0
    close = session_close(snap.session_day)
    opened = close - timedelta(hours=6, minutes=30)
    return min(1.0, max(0.0, (min(snap.at, close) - opened).total_seconds() / (6.5 * 3600)))


def greeks_json(quote: OptionQuote) -> dict[str, object]:
    """E*TRADE's ``OptionGreeks`` object."""
    g = quote.greeks
    return {
        "rho": round(g.rho, 4),
        "vega": round(g.vega, 4),
        "theta": round(g.theta, 4),
        "delta": round(g.delta, 4),
        "gamma": round(g.gamma, 4),
        "iv": quote.iv,
        "currentValue": True,
    }


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
