"""The seeded random walk: deterministic, cheap to jump, moving only in the regular session."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from rauth import OAuth1Session

from emulator import Emulator
from emulator.market import Market, Phase, phase_at, session_day, trading_days_between
from tests.emulator.conftest import T0, get, login, make_emulator

INSTANTS = [T0 + timedelta(minutes=m) for m in (0, 1, 7, 60, 61, 300, 1440 * 3, 1440 * 40)]


def path(seed: int, symbol: str, instants: list[datetime]) -> list[tuple[float, float, float, int]]:
    market = Market(seed)
    return [(s.last, s.high, s.low, s.volume) for s in (market.observe(symbol, moment) for moment in instants)]


def test_same_seed_same_instants_same_prices() -> None:
    assert path(7, "NVDA", INSTANTS) == path(7, "NVDA", INSTANTS)


def test_different_seed_different_prices() -> None:
    assert path(7, "NVDA", INSTANTS) != path(8, "NVDA", INSTANTS)


def test_a_symbol_path_does_not_depend_on_other_symbols_being_observed() -> None:
    busy = Market(7)
    seen: list[tuple[float, float, float, int]] = []
    for moment in INSTANTS:
        busy.observe("AAPL", moment)
        busy.observe("MSFT", moment + timedelta(seconds=30))
        snap = busy.observe("NVDA", moment)
        seen.append((snap.last, snap.high, snap.low, snap.volume))
    assert seen == path(7, "NVDA", INSTANTS)


def test_determinism_over_http() -> None:
    def observe() -> list[float]:
        with make_emulator(seed=1234) as emu:
            session = login(emu)
            try:
                seen: list[float] = []
                for step in (0, 3, 45, 90):
                    emu.clock.set(T0 + timedelta(minutes=step))
                    data = get(session, emu, "/v1/market/quote/AAPL,SPY,GLD.json").json()
                    seen.extend(q["All"]["lastTrade"] for q in data["QuoteResponse"]["QuoteData"])
                return seen
            finally:
                session.close()

    first, second = observe(), observe()
    assert first == second
    assert len(set(first)) > 3  # and the prices do move


def test_long_jumps_are_cheap_and_stay_sane() -> None:
    market = Market(3)
    start = market.observe("SPY", T0)
    ten_years = market.observe("SPY", T0 + timedelta(days=3652))
    assert ten_years.session_day > start.session_day
    assert 0 < ten_years.last < start.last * 100
    assert ten_years.low52 <= ten_years.last <= ten_years.high52
    assert trading_days_between(start.session_day, ten_years.session_day) > 2500


def test_prices_stand_still_outside_the_regular_session() -> None:
    market = Market(5)
    friday_close = datetime(2026, 3, 13, 20, 0, tzinfo=UTC)  # 16:00 EDT Friday
    at_close = market.observe("AAPL", friday_close)
    weekend = [market.observe("AAPL", friday_close + timedelta(hours=h)) for h in (1, 10, 30, 60)]
    assert {s.last for s in weekend} == {at_close.last}
    monday_premarket = market.observe("AAPL", datetime(2026, 3, 16, 12, 0, tzinfo=UTC))
    assert monday_premarket.last == at_close.last
    assert monday_premarket.prev_close == at_close.last  # the new day, before its open
    monday = market.observe("AAPL", datetime(2026, 3, 16, 15, 0, tzinfo=UTC))
    assert monday.prev_close == at_close.last
    assert monday.last != at_close.last


def test_volume_grows_through_the_session_and_ranges_hold() -> None:
    market = Market(9)
    day_open = datetime(2026, 3, 10, 13, 30, tzinfo=UTC)
    snaps = [market.observe("MSFT", day_open + timedelta(minutes=m)) for m in range(0, 391, 15)]
    volumes = [s.volume for s in snaps]
    assert volumes == sorted(volumes) and volumes[0] == 0 and volumes[-1] > 0
    for s in snaps:
        assert s.low <= s.last <= s.high
        assert s.low <= s.open <= s.high
        assert 0 < s.bid < s.ask
        assert s.phase in (Phase.REGULAR, Phase.AFTER_HOURS)


def test_going_back_in_time_does_not_rewrite_prices() -> None:
    market = Market(11)
    later = market.observe("KO", T0 + timedelta(hours=2))
    earlier = market.observe("KO", T0)
    assert earlier.at == T0
    assert (earlier.last, earlier.volume, earlier.high, earlier.low) == (
        later.last,
        later.volume,
        later.high,
        later.low,
    )


@pytest.mark.parametrize(
    ("moment", "phase", "day"),
    [
        (datetime(2026, 3, 9, 13, 29, tzinfo=UTC), Phase.PRE_MARKET, datetime(2026, 3, 6).date()),  # Mon 09:29 EDT
        (datetime(2026, 3, 9, 13, 30, tzinfo=UTC), Phase.REGULAR, datetime(2026, 3, 9).date()),
        (datetime(2026, 3, 9, 0, 30, tzinfo=UTC), Phase.CLOSED, datetime(2026, 3, 6).date()),  # Sun 20:30 EDT
        (datetime(2026, 3, 7, 15, 0, tzinfo=UTC), Phase.CLOSED, datetime(2026, 3, 6).date()),  # Saturday
        (datetime(2026, 11, 2, 14, 30, tzinfo=UTC), Phase.REGULAR, datetime(2026, 11, 2).date()),  # 09:30 EST
    ],
)
def test_calendar(moment: datetime, phase: Phase, day: object) -> None:
    assert phase_at(moment) is phase
    assert session_day(moment) == day


def test_quotes_at_the_same_instant_are_identical(emu: Emulator, session: OAuth1Session) -> None:
    first = get(session, emu, "/v1/market/quote/AAPL.json").json()
    second = get(session, emu, "/v1/market/quote/AAPL.json").json()
    assert first == second  # the clock is frozen: no time passed, nothing moved
