"""US market hours and a seeded random walk of prices, both driven by the emulator clock.

Calendar: regular session 09:30-16:00 America/New_York on weekdays, pre-market from 04:00,
after-hours until 20:00. Exchange holidays are not modelled (documented in the README).

Prices: each symbol has its own ``random.Random`` seeded from (seed, symbol), so a symbol's
path depends only on the seed and on the clock instants at which *that* symbol is observed.
An observation advances the walk by one log-normal step scaled by the square root of the
regular-session time elapsed since the previous observation; a jump over many days costs a
handful of draws (close out the current day, one step for all full days in between, an
overnight gap, then the part of the new session), never one draw per minute or per day.
Prices move only during the regular session.
"""

from __future__ import annotations

import enum
import math
import random
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from emulator import universe
from emulator.clock import EASTERN, as_utc
from emulator.universe import Instrument

REGULAR_OPEN = time(9, 30)
REGULAR_CLOSE = time(16, 0)
PRE_MARKET_OPEN = time(4, 0)
AFTER_HOURS_CLOSE = time(20, 0)
SESSION_SECONDS = 6.5 * 3600
#: Trading seconds in a year: the unit in which annual volatility is scaled.
TRADING_SECONDS_PER_YEAR = 252 * SESSION_SECONDS
#: Annual drift of every walk; small enough not to matter, positive like markets.
DRIFT = 0.07


class Phase(enum.Enum):
    """Where the US equity market is at an instant."""

    PRE_MARKET = "PRE_MARKET"
    REGULAR = "REGULAR"
    AFTER_HOURS = "AFTER_HOURS"
    CLOSED = "CLOSED"


def is_trading_day(day: date) -> bool:
    """Weekdays; exchange holidays are not modelled."""
    return day.weekday() < 5


def _at_eastern(day: date, clock_time: time) -> datetime:
    return datetime.combine(day, clock_time, tzinfo=EASTERN).astimezone(UTC)


def session_open(day: date) -> datetime:
    """09:30 ET on ``day`` as aware UTC."""
    return _at_eastern(day, REGULAR_OPEN)


def session_close(day: date) -> datetime:
    """16:00 ET on ``day`` as aware UTC."""
    return _at_eastern(day, REGULAR_CLOSE)


def previous_trading_day(day: date) -> date:
    """The last trading day strictly before ``day``."""
    day -= timedelta(days=1)
    while not is_trading_day(day):
        day -= timedelta(days=1)
    return day


def phase_at(moment: datetime) -> Phase:
    """The market phase at ``moment`` (emulator clock)."""
    local = as_utc(moment).astimezone(EASTERN)
    if not is_trading_day(local.date()):
        return Phase.CLOSED
    now = local.time()
    if REGULAR_OPEN <= now < REGULAR_CLOSE:
        return Phase.REGULAR
    if PRE_MARKET_OPEN <= now < REGULAR_OPEN:
        return Phase.PRE_MARKET
    if REGULAR_CLOSE <= now < AFTER_HOURS_CLOSE:
        return Phase.AFTER_HOURS
    return Phase.CLOSED


def session_day(moment: datetime) -> date:
    """The most recent trading day whose regular session has opened at ``moment``.

    Before Monday's open this is the previous Friday: quotes then show Friday's session.
    """
    local = as_utc(moment).astimezone(EASTERN)
    day = local.date()
    if is_trading_day(day) and local.time() >= REGULAR_OPEN:
        return day
    return previous_trading_day(day)


def trading_days_between(first: date, last: date) -> int:
    """Number of trading days strictly between ``first`` and ``last``."""
    if last <= first:
        return 0
    days = (last - first).days - 1
    weeks, rest = divmod(days, 7)
    count = weeks * 5
    day = first + timedelta(days=1 + weeks * 7)
    for _ in range(rest):
        if is_trading_day(day):
            count += 1
        day += timedelta(days=1)
    return count


def session_seconds_between(day: date, start: datetime, end: datetime) -> float:
    """Regular-session seconds of ``day`` that lie between ``start`` and ``end``."""
    lo = max(start, session_open(day))
    hi = min(end, session_close(day))
    return max(0.0, (hi - lo).total_seconds())


def format_eastern(moment: datetime) -> str:
    """E*TRADE's quote time format, e.g. ``15:17:00 EDT 06-20-2018``."""
    local = as_utc(moment).astimezone(EASTERN)
    return local.strftime("%H:%M:%S %Z %m-%d-%Y")


@dataclass
class _Day:
    """Statistics of the session a tape is currently in."""

    day: date
    open: float
    high: float
    low: float
    prev_close: float
    prev_volume: int
    volume_factor: float


@dataclass(frozen=True)
class Snapshot:
    """Everything a quote or a portfolio row needs about one symbol at one instant."""

    instrument: Instrument
    at: datetime
    phase: Phase
    session_day: date
    last: float
    last_trade_at: datetime
    open: float
    high: float
    low: float
    prev_close: float
    volume: int
    prev_volume: int
    high52: float
    low52: float
    high52_at: datetime
    low52_at: datetime
    bid: float
    ask: float
    bid_size: int
    ask_size: int

    @property
    def symbol(self) -> str:
        """The instrument's symbol."""
        return self.instrument.symbol

    @property
    def change(self) -> float:
        """Last trade minus previous close."""
        return round(self.last - self.prev_close, 4)

    @property
    def change_pct(self) -> float:
        """Change as a percentage of the previous close."""
        return round(100.0 * (self.last - self.prev_close) / self.prev_close, 4) if self.prev_close else 0.0


def _cents(value: float) -> float:
    return round(value + 0.0, 2)


class Tape:
    """The seeded price path of one symbol. Not thread-safe on its own: :class:`Market` locks."""

    def __init__(self, instrument: Instrument, seed: int) -> None:
        self.instrument = instrument
        self._seed = seed
        self._rng = random.Random(f"etrade-emulator:{seed}:tape:{instrument.symbol}")
        #: Price at the first observation; the seeded book prices its lots relative to it.
        self.reference_price = _cents(instrument.base_price * math.exp(self._rng.gauss(0.0, 0.04)))
        self._price = self.reference_price
        self._last_t: datetime | None = None
        self._day: _Day | None = None
        self._high52 = self._low52 = self.reference_price
        self._high52_at = self._low52_at = datetime.fromtimestamp(0, UTC)

    # -- the walk ------------------------------------------------------------------------
    def _sigma_sqrt(self, seconds: float) -> float:
        return self.instrument.volatility * math.sqrt(seconds / TRADING_SECONDS_PER_YEAR)

    def _step(self, seconds: float) -> tuple[float, float]:
        """Advance the price over ``seconds`` of session time; return the (high, low) touched."""
        if seconds <= 0:
            return self._price, self._price
        years = seconds / TRADING_SECONDS_PER_YEAR
        scale = self._sigma_sqrt(seconds)
        start = self._price
        vol = self.instrument.volatility
        self._price = start * math.exp((DRIFT - vol * vol / 2) * years + scale * self._rng.gauss(0.0, 1.0))
        # A Brownian path overshoots its endpoints; widen the range by a half-sigma excursion.
        high = max(start, self._price) * math.exp(0.5 * scale * abs(self._rng.gauss(0.0, 1.0)))
        low = min(start, self._price) * math.exp(-0.5 * scale * abs(self._rng.gauss(0.0, 1.0)))
        return high, low

    def _new_day(self, day: date, prev_close: float, prev_volume: int) -> _Day:
        factor = math.exp(self._rng.gauss(0.0, 0.25))
        return _Day(day, self._price, self._price, self._price, prev_close, prev_volume, factor)

    def _synthetic_volume(self) -> int:
        return int(self.instrument.average_volume * math.exp(self._rng.gauss(0.0, 0.25)))

    def _track_52_weeks(self, high: float, low: float, at: datetime) -> None:
        if high > self._high52:
            self._high52, self._high52_at = high, at
        if low < self._low52:
            self._low52, self._low52_at = low, at

    def _start(self, moment: datetime) -> None:
        """First observation: invent the current session's history ending at the reference price."""
        day = session_day(moment)
        elapsed = session_seconds_between(day, session_open(day), moment)
        vol = self.instrument.volatility
        open_price = self._price * math.exp(-self._sigma_sqrt(elapsed) * self._rng.gauss(0.0, 1.0))
        gap = vol * math.sqrt(1 / 252) * 0.3
        prev_close = open_price * math.exp(gap * self._rng.gauss(0.0, 1.0))
        scale = self._sigma_sqrt(elapsed)
        high = max(open_price, self._price) * math.exp(0.5 * scale * abs(self._rng.gauss(0.0, 1.0)))
        low = min(open_price, self._price) * math.exp(-0.5 * scale * abs(self._rng.gauss(0.0, 1.0)))
        self._day = _Day(
            day, open_price, high, low, prev_close, self._synthetic_volume(), math.exp(self._rng.gauss(0.0, 0.25))
        )
        # A plausible 52-week range around today, reached some months ago.
        spread = vol * 0.6
        self._high52 = max(high, prev_close) * math.exp(spread * abs(self._rng.gauss(0.0, 1.0)) + 0.02)
        self._low52 = min(low, prev_close) * math.exp(-spread * abs(self._rng.gauss(0.0, 1.0)) - 0.02)
        self._high52_at = session_close(day - timedelta(days=self._rng.randint(5, 330)))
        self._low52_at = session_close(day - timedelta(days=self._rng.randint(5, 330)))
        self._last_t = moment

    def _advance(self, moment: datetime) -> None:
        assert self._day is not None and self._last_t is not None
        target = session_day(moment)
        if target > self._day.day:
            current = self._day
            high, low = self._step(session_seconds_between(current.day, self._last_t, session_close(current.day)))
            current.high, current.low = max(current.high, high), min(current.low, low)
            self._track_52_weeks(current.high, current.low, session_close(current.day))
            prev_volume = int(self.instrument.average_volume * current.volume_factor)
            skipped = trading_days_between(current.day, target)
            if skipped:
                self._step(skipped * SESSION_SECONDS)
                self._track_52_weeks(self._price, self._price, session_close(previous_trading_day(target)))
                prev_volume = self._synthetic_volume()
            prev_close = self._price
            gap = self.instrument.volatility * math.sqrt(1 / 252) * 0.3
            self._price *= math.exp(gap * self._rng.gauss(0.0, 1.0))
            self._day = self._new_day(target, prev_close, prev_volume)
            self._last_t = session_open(target)
        high, low = self._step(session_seconds_between(self._day.day, self._last_t, moment))
        self._day.high, self._day.low = max(self._day.high, high), min(self._day.low, low)
        self._track_52_weeks(self._day.high, self._day.low, min(moment, session_close(self._day.day)))
        self._last_t = moment

    def observe(self, moment: datetime) -> Snapshot:
        """Advance the walk to ``moment`` (if later than the last observation) and describe it.

        Moving the clock backwards never un-happens a price: the tape stays where it was.
        """
        moment = as_utc(moment)
        if self._last_t is None:
            self._start(moment)
        elif moment > self._last_t:
            self._advance(moment)
        return self._snapshot(moment)

    def move_to(self, moment: datetime, price: float) -> Snapshot:
        """Observe ``moment``, then jump the price to ``price`` there (a news gap, a halt reopening).

        The day's high and low widen to include it; the walk continues from the new price.
        """
        self.observe(moment)
        assert self._day is not None
        self._price = price
        self._day.high, self._day.low = max(self._day.high, price), min(self._day.low, price)
        self._track_52_weeks(price, price, min(as_utc(moment), session_close(self._day.day)))
        return self._snapshot(as_utc(moment))

    # -- presentation --------------------------------------------------------------------
    def _snapshot(self, moment: datetime) -> Snapshot:
        day, last_t = self._day, self._last_t
        assert day is not None and last_t is not None
        # ``at`` is the instant asked about; the market data is as of the latest observation
        # (later than ``moment`` only when the clock was moved backwards).
        at, moment = moment, max(moment, last_t)
        inst = self.instrument
        open_at, close_at = session_open(day.day), session_close(day.day)
        traded_until = min(max(moment, open_at), close_at)
        last = _cents(self._price)
        prev_close = _cents(day.prev_close)
        fraction = (traded_until - open_at).total_seconds() / SESSION_SECONDS
        # Cumulative intraday volume: front-loaded like real sessions, 0 at the open, full at the close.
        volume = int(inst.average_volume * day.volume_factor * fraction**0.8)
        open_price, high, low = _cents(day.open), _cents(max(day.high, self._price)), _cents(min(day.low, self._price))
        last_trade_at = traded_until
        bid = ask = 0.0
        bid_size = ask_size = 0
        if inst.is_mutual_fund:
            # Funds price once a day at the close and have no intraday market.
            open_price = high = low = 0.0
            volume = 0
            if moment < close_at:
                last, last_trade_at = prev_close, session_close(previous_trading_day(day.day))
            else:
                last_trade_at = close_at
        else:
            sizes = random.Random(f"etrade-emulator:{self._seed}:sizes:{inst.symbol}:{int(moment.timestamp())}")
            spread = max(0.01, _cents(last * 0.0004))
            bid = math.floor((last - spread / 2) * 100 + 1e-6) / 100
            ask = _cents(bid + spread)
            bid_size = sizes.randint(1, 30) * 100
            ask_size = sizes.randint(1, 30) * 100
        phase = phase_at(moment)
        shown_day, prev_volume = day.day, day.prev_volume
        if phase is Phase.PRE_MARKET:
            # Pre-market, E*TRADE already shows the new day (a captured production quote at
            # 09:06 ET has open/high/low 0, change 0 and previousClose = lastTrade = last close).
            shown_day = moment.astimezone(EASTERN).date()
            prev_close, prev_volume = last, volume
            open_price = high = low = 0.0
            volume = 0
        return Snapshot(
            instrument=inst,
            at=at,
            phase=phase,
            session_day=shown_day,
            last=last,
            last_trade_at=last_trade_at,
            open=open_price,
            high=high,
            low=low,
            prev_close=prev_close,
            volume=volume,
            prev_volume=prev_volume,
            high52=_cents(max(self._high52, self._price)),
            low52=_cents(min(self._low52, self._price)),
            high52_at=self._high52_at,
            low52_at=self._low52_at,
            bid=bid,
            ask=ask,
            bid_size=bid_size,
            ask_size=ask_size,
        )


class Market:
    """All tapes of one emulator, created lazily, behind one lock."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._lock = threading.Lock()
        self._tapes: dict[str, Tape] = {}

    def _tape(self, symbol: str) -> Tape:
        instrument = universe.get(symbol)
        if instrument is None:
            raise KeyError(symbol)
        tape = self._tapes.get(instrument.symbol)
        if tape is None:
            tape = self._tapes[instrument.symbol] = Tape(instrument, self.seed)
        return tape

    def knows(self, symbol: str) -> bool:
        """Whether ``symbol`` is in the universe."""
        return universe.get(symbol) is not None

    def reference_price(self, symbol: str) -> float:
        """The price at the symbol's first observation (deterministic for the seed)."""
        with self._lock:
            return self._tape(symbol).reference_price

    def observe(self, symbol: str, moment: datetime) -> Snapshot:
        """Advance ``symbol``'s walk to ``moment`` and return its snapshot. KeyError if unknown."""
        with self._lock:
            return self._tape(symbol).observe(moment)

    def move(
        self, symbol: str, moment: datetime, *, price: float | None = None, factor: float | None = None
    ) -> Snapshot:
        """Set ``symbol``'s price at ``moment`` to ``price``, or multiply it by ``factor``. KeyError if unknown.

        Exactly one of the two; the result must be a positive price of at most 1,000,000 (ValueError).
        """
        if (price is None) == (factor is None):
            raise ValueError("give either price or factor")
        with self._lock:
            tape = self._tape(symbol)
            current = tape.observe(moment).last
            target = _cents(price if price is not None else current * (factor or 0.0))
            if not 0.01 <= target <= 1_000_000:
                raise ValueError(f"the new price {target} must lie between 0.01 and 1000000")
            return tape.move_to(moment, target)


def quote_status(phase: Phase) -> str:
    """QuoteData/portfolio ``quoteStatus``: REALTIME in the regular session, else CLOSING.

    A captured production quote taken pre-market shows ``CLOSING`` at the top level with the
    extended-hours detail reporting ``EH_REALTIME``; the emulator follows that capture.
    """
    return "REALTIME" if phase is Phase.REGULAR else "CLOSING"


def extended_quote_status(phase: Phase) -> str:
    """``ExtendedHourQuoteDetail.quoteStatus``: EH_REALTIME pre-market/after-hours, else EH_CLOSED."""
    return "EH_REALTIME" if phase in (Phase.PRE_MARKET, Phase.AFTER_HOURS) else "EH_CLOSED"


def after_hours(phase: Phase) -> bool:
    """Whether extended-hours trading is on (E*TRADE's ``ahFlag``)."""
    return phase in (Phase.PRE_MARKET, Phase.AFTER_HOURS)
