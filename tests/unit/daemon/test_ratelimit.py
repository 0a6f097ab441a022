"""The rate limiter on a fake monotonic clock: its empty start, waiting within a budget, refusing
beyond it, the overall ceiling, and slowing down after E*TRADE's own refusal. No real time passes."""

from __future__ import annotations

import asyncio

import pytest

from broker_client.errors import ErrorCode, RateLimited
from daemon.gateway.ratelimit import ModuleLimitStats, ModuleRate, RateLimiter
from tests.unit.daemon.fake_time import FakeTime

pytestmark = pytest.mark.anyio


#: Longer than any bucket here takes to fill from empty (burst / rate).
SETTLE_SECONDS = 60.0


def limiter(time: FakeTime, *, per_minute: int = 6000, **rates: ModuleRate) -> RateLimiter:
    """A limiter that has been running long enough for every bucket to be full."""
    lim = RateLimiter(rates or {"market": ModuleRate(2.0, burst=2)}, requests_per_minute=per_minute, time_source=time)
    time.now += SETTLE_SECONDS
    return lim


def by_module(lim: RateLimiter) -> dict[str, ModuleLimitStats]:
    return {s.module: s for s in lim.stats()}


async def test_a_new_limiter_starts_empty_as_if_its_predecessor_had_just_spent_every_bucket() -> None:
    """A restarted daemon shares the consumer key with the one that just exited, which may have used
    the whole second: the first request waits one slot, and a full burst is there only after
    burst / rate seconds."""
    time = FakeTime(start=500.0)
    lim = RateLimiter(
        {"market": ModuleRate(4.0, burst=4), "accounts": ModuleRate(2.0, burst=2)},
        requests_per_minute=600,
        time_source=time,
    )
    assert lim.estimated_wait("market") == pytest.approx(0.25)
    assert lim.estimated_wait("accounts") == pytest.approx(0.5)
    with pytest.raises(RateLimited) as caught:
        await lim.acquire("market", max_wait=0)
    assert caught.value.retry_after == pytest.approx(0.3)  # shown rounded up to a tenth
    # The overall ceiling starts empty too (10/s here), but a module's own slot is further away.
    assert lim.estimated_wait("oauth") == pytest.approx(0.1)
    for _ in range(4):
        await lim.acquire("market", max_wait=1.0)
    # Four requests took a second, at 4/s: never more than E*TRADE's allowance refills meanwhile.
    assert time.sleeps == [pytest.approx(0.25), pytest.approx(0.25), pytest.approx(0.25), pytest.approx(0.25)]
    assert time.now == pytest.approx(501.0)


async def test_a_filled_limiter_lets_a_whole_burst_through_at_once() -> None:
    """For a daemon whose predecessor is proven quiet; refill_seconds is the longest burst / rate."""
    time = FakeTime(start=500.0)
    lim = RateLimiter(
        {"market": ModuleRate(4.0, burst=4), "accounts": ModuleRate(1.8, burst=2)},
        requests_per_minute=600,
        time_source=time,
    )
    assert lim.refill_seconds == pytest.approx(2 / 1.8)
    lim.fill()
    for _ in range(4):
        await lim.acquire("market", max_wait=0)
    assert time.sleeps == []
    assert lim.estimated_wait("market") == pytest.approx(0.25)


async def test_a_limiter_left_alone_for_burst_over_rate_seconds_is_full() -> None:
    time = FakeTime()
    lim = RateLimiter({"accounts": ModuleRate(2.0, burst=2)}, requests_per_minute=600, time_source=time)
    time.now += 1.0  # burst / rate
    assert lim.estimated_wait("accounts") == 0.0
    await lim.acquire("accounts", max_wait=0)
    await lim.acquire("accounts", max_wait=0)
    assert time.sleeps == []
    assert lim.estimated_wait("accounts") == pytest.approx(0.5)


async def test_the_burst_goes_through_without_waiting() -> None:
    time = FakeTime()
    lim = limiter(time)
    await lim.acquire("market", max_wait=0)
    await lim.acquire("market", max_wait=0)
    assert time.sleeps == []
    stats = by_module(lim)["market"]
    assert (stats.granted, stats.waits, stats.rejections) == (2, 0, 0)


async def test_a_caller_waits_for_the_next_slot_when_its_budget_allows() -> None:
    time = FakeTime()
    lim = limiter(time)
    await lim.acquire("market", max_wait=0)
    await lim.acquire("market", max_wait=0)
    await lim.acquire("market", max_wait=1.0)  # 2 per second: the next slot is 0.5 s away
    assert time.sleeps == [pytest.approx(0.5)]
    stats = by_module(lim)["market"]
    assert (stats.granted, stats.waits, stats.rejections) == (3, 1, 0)
    assert stats.waited_seconds == pytest.approx(0.5)


async def test_a_caller_is_refused_at_once_when_the_slot_is_beyond_its_budget() -> None:
    time = FakeTime()
    lim = limiter(time)
    await lim.acquire("market", max_wait=0)
    await lim.acquire("market", max_wait=0)
    with pytest.raises(RateLimited) as caught:
        await lim.acquire("market", max_wait=0.2)
    assert caught.value.code is ErrorCode.RATE_LIMITED
    assert caught.value.retry_after == pytest.approx(0.5)
    assert "rate limited, retry in 0.5 s" in caught.value.message
    assert time.sleeps == []  # refused without waiting
    stats = by_module(lim)["market"]
    assert (stats.granted, stats.rejections) == (2, 1)
    # Nothing was reserved for the refused caller: the next slot is still 0.5 s away.
    assert lim.estimated_wait("market") == pytest.approx(0.5)


async def test_waiting_callers_get_successive_slots_in_arrival_order() -> None:
    time = FakeTime(auto_advance=False)
    lim = limiter(time, market=ModuleRate(2.0, burst=1))
    await lim.acquire("market", max_wait=0)
    order: list[int] = []

    async def caller(n: int) -> None:
        await lim.acquire("market", max_wait=10)
        order.append(n)

    tasks = [asyncio.create_task(caller(n)) for n in range(3)]
    await time.settle()
    assert sorted(time.pending_wakeups()) == [pytest.approx(0.5), pytest.approx(1.0), pytest.approx(1.5)]
    await time.run_until_idle()
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2]


async def test_a_caller_that_gives_up_hands_its_slot_back() -> None:
    time = FakeTime(auto_advance=False)
    lim = limiter(time, market=ModuleRate(1.0, burst=1))
    await lim.acquire("market", max_wait=0)
    waiting = asyncio.create_task(lim.acquire("market", max_wait=5))
    await time.settle()
    assert lim.estimated_wait("market") == pytest.approx(2.0)  # one slot reserved ahead
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert lim.estimated_wait("market") == pytest.approx(1.0)


async def test_the_overall_ceiling_applies_across_modules() -> None:
    time = FakeTime()
    lim = limiter(
        time,
        per_minute=60,  # one request per second in all
        market=ModuleRate(100.0, burst=10),
        accounts=ModuleRate(100.0, burst=10),
    )
    await lim.acquire("market", max_wait=0)
    with pytest.raises(RateLimited) as caught:
        await lim.acquire("accounts", max_wait=0.5)
    assert caught.value.retry_after == pytest.approx(1.0)
    overall = by_module(lim)["overall"]
    assert (overall.granted, overall.rejections) == (1, 1)


async def test_a_module_without_its_own_rate_is_held_by_the_ceiling_only() -> None:
    time = FakeTime()
    lim = limiter(time, per_minute=120)
    await lim.acquire("oauth", max_wait=0)
    await lim.acquire("oauth", max_wait=0)
    await lim.acquire("oauth", max_wait=1)
    assert time.sleeps == [pytest.approx(0.5)]


async def test_an_upstream_refusal_pauses_the_module_and_halves_its_rate() -> None:
    time = FakeTime()
    lim = RateLimiter(
        {"market": ModuleRate(4.0, burst=2)}, requests_per_minute=6000, recovery_seconds=1e9, time_source=time
    )
    time.now += SETTLE_SECONDS
    lim.upstream_refused("market")
    market = by_module(lim)["market"]
    assert market.current_rate_per_second == pytest.approx(2.0)
    assert market.upstream_rate_limited == 1
    # Everyone pauses for a second (E*TRADE's limits are per second), then goes on at 2/s.
    assert lim.estimated_wait("market") == pytest.approx(1.0)
    time.now += 1.0
    await lim.acquire("market", max_wait=0)
    assert lim.estimated_wait("market") == pytest.approx(0.5)


async def test_a_slowed_module_recovers_its_rate_over_time() -> None:
    time = FakeTime()
    lim = RateLimiter(
        {"market": ModuleRate(4.0, burst=2)}, requests_per_minute=6000, recovery_seconds=30, time_source=time
    )
    lim.upstream_refused("market")
    lim.upstream_refused("market")  # at once: half of half
    assert by_module(lim)["market"].current_rate_per_second == pytest.approx(1.0)
    time.now += 15  # half-way through the recovery: 1 + (4 - 1) / 2
    assert by_module(lim)["market"].current_rate_per_second == pytest.approx(2.5)
    time.now += 15
    assert by_module(lim)["market"].current_rate_per_second == pytest.approx(4.0)


async def test_repeated_refusals_never_stop_a_module_entirely() -> None:
    time = FakeTime()
    lim = limiter(time, market=ModuleRate(4.0, burst=2))
    for _ in range(20):
        lim.upstream_refused("market")
    assert by_module(lim)["market"].current_rate_per_second == pytest.approx(4.0 / 16)


def test_rates_must_be_positive_and_bursts_at_least_one() -> None:
    with pytest.raises(ValueError):
        ModuleRate(0)
    with pytest.raises(ValueError):
        ModuleRate(1.0, burst=0.5)
