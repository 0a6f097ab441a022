"""The controllable clock and the Eastern-midnight rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from emulator.clock import Clock, next_eastern_midnight


class FakeReal:
    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def test_running_clock_follows_real_time_from_its_offset() -> None:
    real = FakeReal(1_000_000.0)
    clock = Clock(datetime(2026, 3, 10, 15, 0, tzinfo=UTC), real=real)
    real.now += 90
    assert clock.now() == datetime(2026, 3, 10, 15, 1, 30, tzinfo=UTC)
    clock.advance(timedelta(hours=1))
    assert clock.now() == datetime(2026, 3, 10, 16, 1, 30, tzinfo=UTC)


def test_freeze_set_advance_unfreeze() -> None:
    real = FakeReal(1_000_000.0)
    clock = Clock(datetime(2026, 3, 10, 15, 0, tzinfo=UTC), real=real)
    frozen_at = clock.freeze()
    real.now += 500
    assert clock.now() == frozen_at and clock.frozen
    clock.set(datetime(2026, 11, 1, 5, 0, tzinfo=UTC))
    clock.advance(timedelta(minutes=5))
    assert clock.now() == datetime(2026, 11, 1, 5, 5, tzinfo=UTC)
    clock.unfreeze()
    real.now += 10
    assert clock.now() == datetime(2026, 11, 1, 5, 5, 10, tzinfo=UTC)
    assert not clock.frozen


def test_clock_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="aware"):
        Clock().set(datetime(2026, 1, 1))


def test_now_is_aware_utc() -> None:
    assert Clock().now().tzinfo is UTC


@pytest.mark.parametrize(
    ("moment", "midnight"),
    [
        (datetime(2026, 3, 10, 3, 59, tzinfo=UTC), datetime(2026, 3, 10, 4, 0, tzinfo=UTC)),  # 23:59 EDT
        (datetime(2026, 3, 10, 4, 0, tzinfo=UTC), datetime(2026, 3, 11, 4, 0, tzinfo=UTC)),  # exactly midnight
        (datetime(2026, 3, 8, 5, 30, tzinfo=UTC), datetime(2026, 3, 9, 4, 0, tzinfo=UTC)),  # 23-hour day
        (datetime(2026, 11, 1, 4, 30, tzinfo=UTC), datetime(2026, 11, 2, 5, 0, tzinfo=UTC)),  # 25-hour day
        (datetime(2026, 11, 1, 6, 30, tzinfo=UTC), datetime(2026, 11, 2, 5, 0, tzinfo=UTC)),  # 01:30 EST (2nd)
        (datetime(2026, 12, 31, 23, 0, tzinfo=UTC), datetime(2027, 1, 1, 5, 0, tzinfo=UTC)),  # year end
    ],
)
def test_next_eastern_midnight(moment: datetime, midnight: datetime) -> None:
    assert next_eastern_midnight(moment) == midnight
