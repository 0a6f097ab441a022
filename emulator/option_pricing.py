"""The pricing model of the emulator's listed equity options: expiry calendar, strike grid,
option symbols, Black-Scholes prices and greeks, and the deterministic quote of a contract.

Every stock and ETF in the universe has options; mutual funds have none. The calendar is derived
from the emulator clock: weeklies expire on each of the next six Fridays, monthlies on the third
Friday of each of the next nine months, plus January LEAPS of the next two years. An expiry lasts
until 16:00 ET on its day. Exchange holidays are not modelled (like the market).

Prices are theoretical Black-Scholes values of the underlying's current snapshot (so they move
with the underlying on the emulator clock), with a smile on the implied volatility; bid/ask,
sizes, volume and open interest are deterministic functions of the seed, the contract and the
instant. Nothing here draws from the underlying's random walk, so asking for a chain never
changes a quote.

Black-Scholes is written out with ``math.erf`` rather than pulling in SciPy for one function.
The HTTP endpoints that serve this model are in emulator/options.py.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from emulator.clock import EASTERN, as_utc
from emulator.market import Phase, Snapshot, session_close
from emulator.universe import Instrument

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
