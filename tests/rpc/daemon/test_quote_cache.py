"""The quote cache against the emulator: coalescing, batching at the 25/50 limits, TTL on the
emulator's clock, partial failure, refresh ahead, and limiter refusals. Upstream calls are
counted at the emulator."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from broker_client.client import BrokerClient
from broker_client.errors import ErrorCode, RateLimited, SessionError, UpstreamError
from daemon.gateway.deadline import Deadline
from daemon.gateway.ratelimit import ModuleRate, RateLimiter
from daemon.market.market import MarketData
from daemon.market.quote_cache import GATHER_LIMIT, QuoteTtl
from emulator import Emulator, universe
from tests.harness.daemons import RunningDaemon
from tests.harness.support import read_verifier, requests_to
from tests.rpc.daemon.domain_app import MARKET_CLOSED, logged_in_app
from tests.unit.daemon.fake_time import FakeTime

#: How long the limiter has run before a test's requests: its buckets, which start empty, are full.
UPTIME_SECONDS = 60.0

pytestmark = pytest.mark.anyio


def symbols(n: int) -> list[str]:
    available = universe.tradable_symbols()
    assert len(available) >= n
    return available[:n]


def quote_calls(emulator: Emulator) -> int:
    return requests_to(emulator, "quote")


async def test_concurrent_requests_for_one_symbol_share_one_upstream_call(emulator: Emulator) -> None:
    async with logged_in_app(emulator) as app:
        batches = await asyncio.gather(*[app.market.quotes(["AAPL"]) for _ in range(10)])
        assert quote_calls(emulator) == 1
        assert {b.quotes[0].last_trade for b in batches} == {batches[0].quotes[0].last_trade}
        stats = app.market.cache.stats()
        assert (stats.misses, stats.coalesced, stats.upstream_calls) == (1, 9, 1)


async def test_misses_of_concurrent_callers_are_batched_in_calls_of_at_most_25(emulator: Emulator) -> None:
    async with logged_in_app(emulator, quote_override_symbol_count=False, quote_refresh_ahead=False) as app:
        wanted = symbols(30)
        batches = await asyncio.gather(*[app.market.quotes([s]) for s in wanted])
        assert [b.quotes[0].symbol for b in batches] == wanted
        assert not any(b.errors for b in batches)
        # 25 + 5. More than 25 without overrideSymbolCount would have been answered 400/1023.
        assert quote_calls(emulator) == 2
        assert set(emulator.stats()["responses_by_status"]) == {"200"}  # no 400/1023
        assert app.market.cache.stats().symbols_fetched == 30


async def test_with_override_symbol_count_50_misses_share_one_call(emulator: Emulator) -> None:
    async with logged_in_app(emulator, quote_refresh_ahead=False) as app:
        wanted = symbols(50)
        batches = await asyncio.gather(*[app.market.quotes([s]) for s in wanted])
        assert [b.quotes[0].symbol for b in batches] == wanted
        assert quote_calls(emulator) == 1


async def test_more_than_50_misses_take_a_second_call(emulator: Emulator) -> None:
    async with logged_in_app(emulator, quote_refresh_ahead=False) as app:
        wanted = symbols(60)
        halves = await asyncio.gather(app.market.quotes(wanted[:30]), app.market.quotes(wanted[30:]))
        assert [q.symbol for half in halves for q in half.quotes] == wanted
        assert quote_calls(emulator) == 2  # 50 + 10
        assert set(emulator.stats()["responses_by_status"]) == {"200"}  # no 400/1023


async def test_a_quote_is_served_from_memory_until_its_ttl_passes_on_the_emulator_clock(emulator: Emulator) -> None:
    async with logged_in_app(emulator, quote_ttl_open=5.0) as app:
        first = (await app.market.quotes(["AAPL"])).quotes[0]
        emulator.clock.advance(timedelta(seconds=4.9))
        cached = (await app.market.quotes(["AAPL"])).quotes[0]
        assert quote_calls(emulator) == 1
        assert cached.fetched_at_unix_ms == first.fetched_at_unix_ms  # it says how old it is
        assert app.market.cache.stats().ttl_seconds == 5.0

        emulator.clock.advance(timedelta(seconds=0.2))
        fresh = (await app.market.quotes(["AAPL"])).quotes[0]
        assert quote_calls(emulator) == 2
        assert fresh.fetched_at_unix_ms == first.fetched_at_unix_ms + 5100


async def test_quotes_stay_longer_while_the_market_is_closed(emulator: Emulator) -> None:
    async with logged_in_app(emulator, at=MARKET_CLOSED, quote_ttl_open=5.0, quote_ttl_closed=60.0) as app:
        await app.market.quotes(["MSFT"])
        emulator.clock.advance(timedelta(seconds=30))
        await app.market.quotes(["MSFT"])
        assert quote_calls(emulator) == 1
        assert app.market.cache.stats().ttl_seconds == 60.0
        emulator.clock.advance(timedelta(seconds=31))
        await app.market.quotes(["MSFT"])
        assert quote_calls(emulator) == 2


async def test_detail_flags_are_cached_separately(emulator: Emulator) -> None:
    async with logged_in_app(emulator) as app:
        await app.market.quotes(["AAPL"], "ALL")
        await app.market.quotes(["AAPL"], "FUNDAMENTAL")
        await app.market.quotes(["AAPL"], "FUNDAMENTAL")
        assert quote_calls(emulator) == 2


async def test_an_unknown_symbol_fails_alone_in_a_shared_batch(emulator: Emulator) -> None:
    async with logged_in_app(emulator) as app:
        mixed, other = await asyncio.gather(app.market.quotes(["AAPL", "ZZZZQ"]), app.market.quotes(["MSFT"]))
        assert quote_calls(emulator) == 1
        assert [q.symbol for q in mixed.quotes] == ["AAPL"]
        assert [(e.symbol, e.code) for e in mixed.errors] == [("ZZZZQ", "INVALID_SYMBOL")]
        assert [q.symbol for q in other.quotes] == ["MSFT"] and not other.errors
        # "Unknown" is an answer too: it is cached like a quote.
        again = await app.market.quotes(["ZZZZQ"])
        assert [e.code for e in again.errors] == ["INVALID_SYMBOL"]
        assert quote_calls(emulator) == 1


async def test_a_batch_of_only_unknown_symbols_answers_each_caller(emulator: Emulator) -> None:
    async with logged_in_app(emulator) as app:
        first, second = await asyncio.gather(app.market.quotes(["ZZZZQ"]), app.market.quotes(["QQQQZ"]))
        assert quote_calls(emulator) == 1  # E*TRADE answers 400/1019 for the whole request
        assert [(e.symbol, e.code) for e in first.errors] == [("ZZZZQ", "INVALID_SYMBOL")]
        assert [(e.symbol, e.code) for e in second.errors] == [("QQQQZ", "INVALID_SYMBOL")]


async def test_a_failed_call_fails_every_caller_of_its_batch_and_is_not_cached(emulator: Emulator) -> None:
    async with logged_in_app(emulator, upstream_retries=0) as app:
        emulator.faults.add({"match": "quote", "status": 500})
        outcomes = await asyncio.gather(
            app.market.quotes(["AAPL"]), app.market.quotes(["MSFT"]), return_exceptions=True
        )
        assert quote_calls(emulator) == 1
        assert all(isinstance(o, UpstreamError) and o.code is ErrorCode.UPSTREAM_ERROR for o in outcomes)
        emulator.faults.clear()
        recovered = await app.market.quotes(["AAPL", "MSFT"])
        assert [q.symbol for q in recovered.quotes] == ["AAPL", "MSFT"]
        assert quote_calls(emulator) == 2


async def test_a_call_with_room_refreshes_the_working_set_ahead_of_expiry(emulator: Emulator) -> None:
    async with logged_in_app(emulator, quote_ttl_open=5.0) as app:
        await app.market.quotes(["AAPL", "MSFT", "NVDA"])
        emulator.clock.advance(timedelta(seconds=3))  # past half the TTL
        await app.market.quotes(["AMZN"])  # a miss: its call also carries the three others
        stats = app.market.cache.stats()
        assert (stats.upstream_calls, stats.symbols_fetched, stats.refreshed_ahead) == (2, 7, 3)
        emulator.clock.advance(timedelta(seconds=2.5))  # 5.5 s after the first fetch
        batch = await app.market.quotes(["AAPL", "MSFT", "NVDA", "AMZN"])
        assert quote_calls(emulator) == 2  # all four were still fresh
        assert len({q.fetched_at_unix_ms for q in batch.quotes}) == 1


async def test_symbols_nobody_asked_for_lately_are_not_refreshed(emulator: Emulator) -> None:
    async with logged_in_app(emulator, at=MARKET_CLOSED, quote_ttl_closed=5.0) as app:
        await app.market.quotes(["AAPL"])
        emulator.clock.advance(timedelta(seconds=30))  # AAPL is no longer in use
        await app.market.quotes(["MSFT"])
        stats = app.market.cache.stats()
        assert (stats.symbols_fetched, stats.refreshed_ahead) == (2, 0)


async def test_a_caller_whose_deadline_ends_before_the_next_slot_is_refused(emulator: Emulator) -> None:
    time = FakeTime()
    async with logged_in_app(
        emulator, time_source=time, market_requests_per_second=0.5, market_burst=1.0, requests_per_minute=600
    ) as app:
        time.now += UPTIME_SECONDS
        await app.market.quotes(["AAPL"])  # takes the only slot; the next is 2 s away
        with pytest.raises(RateLimited) as caught:
            await app.market.quotes(["MSFT"], deadline=Deadline.after(1.0))
        assert caught.value.code is ErrorCode.RATE_LIMITED
        assert caught.value.retry_after is not None and 1.5 < caught.value.retry_after <= 2.0
        assert "rate limited, retry in" in caught.value.message
        assert quote_calls(emulator) == 1
        # Cached quotes are still served at once.
        assert (await app.market.quotes(["AAPL"], deadline=Deadline.after(0.1))).quotes


async def test_nothing_is_served_from_memory_after_logout_and_a_new_login_starts_afresh(emulator: Emulator) -> None:
    async with logged_in_app(emulator) as app:
        await app.market.quotes(["AAPL"])
        await app.session.logout()
        with pytest.raises(SessionError):
            await app.market.quotes(["AAPL"])
        url, _ = await app.session.begin_login()
        await app.session.complete_login(read_verifier(url))
        await app.market.quotes(["AAPL"])
        assert quote_calls(emulator) == 2


async def test_rate_limited_reaches_a_grpc_client_with_retry_after(broker: BrokerClient, daemon: RunningDaemon) -> None:
    # A new limiter starts empty: its first slot is 100 s away.
    daemon.app.gateway.limiter = RateLimiter({"market": ModuleRate(0.01, burst=1)}, requests_per_minute=600)
    with pytest.raises(RateLimited) as caught:
        await broker.get_quotes(["MSFT"])
    assert caught.value.code is ErrorCode.RATE_LIMITED
    assert caught.value.retry_after is not None and caught.value.retry_after > 60
    assert "retry in" in caught.value.message


async def test_misses_arriving_a_few_milliseconds_apart_share_one_call(emulator: Emulator) -> None:
    """Proxies asking together reach the daemon a little apart: the batch waits while misses keep
    coming (a quiet period of ``gather`` seconds), on a fake clock here."""
    async with logged_in_app(emulator) as app:
        time = FakeTime(auto_advance=False)
        market = MarketData(app.gateway, app.clock, ttl=QuoteTtl(5, 5), gather_seconds=0.003, time_source=time)
        first = asyncio.create_task(market.quotes(["AAPL"]))
        await time.settle()  # the batcher waits its first quiet period
        second = asyncio.create_task(market.quotes(["MSFT"]))
        await time.wake_next()  # a miss arrived meanwhile: it waits another period
        third = asyncio.create_task(market.quotes(["NVDA"]))
        await time.wake_next()  # and another
        await time.wake_next()  # a quiet period without a new miss: the call goes out
        batches = await asyncio.gather(first, second, third)
        assert [b.quotes[0].symbol for b in batches] == ["AAPL", "MSFT", "NVDA"]
        assert quote_calls(emulator) == 1
        assert time.sleeps == [0.003, 0.003, 0.003]


async def test_a_steady_stream_of_misses_waits_at_most_the_gather_limit(emulator: Emulator) -> None:
    async with logged_in_app(emulator) as app:
        time = FakeTime(auto_advance=False)
        market = MarketData(app.gateway, app.clock, ttl=QuoteTtl(5, 5), gather_seconds=0.003, time_source=time)
        wanted = symbols(GATHER_LIMIT + 2)
        tasks = [asyncio.create_task(market.quotes([wanted[0]]))]
        for symbol in wanted[1 : GATHER_LIMIT + 1]:
            await time.settle()
            tasks.append(asyncio.create_task(market.quotes([symbol])))  # a new miss every period
            await time.wake_next()
        # Without the limit the batcher would still be waiting for a quiet period (bounded here).
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=10)
        assert len(time.sleeps) == GATHER_LIMIT
        assert quote_calls(emulator) == 1


async def test_a_caller_whose_deadline_allows_waits_for_the_next_slot(emulator: Emulator) -> None:
    time = FakeTime()
    async with logged_in_app(emulator, time_source=time, market_requests_per_second=2.0, market_burst=1.0) as app:
        time.now += UPTIME_SECONDS
        await app.market.quotes(["AAPL"])  # takes the only slot; the next is 0.5 s away
        batch = await app.market.quotes(["MSFT"], deadline=Deadline.after(10))
        assert [q.symbol for q in batch.quotes] == ["MSFT"]
        market = next(s for s in app.gateway.limiter.stats() if s.module == "market")
        assert (market.granted, market.waits, market.rejections) == (2, 1, 0)
        assert time.sleeps == [pytest.approx(0.5)]
        assert quote_calls(emulator) == 2
