"""Short-lived caches of the accounts list, balances and portfolios, and the invalidation hook the
order code calls. Upstream calls are counted at the emulator; time moves on its clock."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from daemon.market.ttl_cache import TtlCache
from emulator import Emulator
from tests.harness.support import requests_to
from tests.rpc.daemon.domain_app import logged_in_app

pytestmark = pytest.mark.anyio


async def test_a_balance_is_served_from_memory_within_its_ttl_and_says_how_old_it_is(emulator: Emulator) -> None:
    async with logged_in_app(emulator, account_cache_ttl=10.0) as app:
        key = (await app.accounts.accounts())[0].account_id_key
        first = await app.accounts.balance(key)
        emulator.clock.advance(timedelta(seconds=9))
        cached = await app.accounts.balance(key)
        assert requests_to(emulator, "balance") == 1
        assert cached.fetched_at_unix_ms == first.fetched_at_unix_ms
        emulator.clock.advance(timedelta(seconds=1.5))
        fresh = await app.accounts.balance(key)
        assert requests_to(emulator, "balance") == 2
        assert fresh.fetched_at_unix_ms == first.fetched_at_unix_ms + 10_500


async def test_concurrent_portfolio_reads_share_one_load(emulator: Emulator) -> None:
    async with logged_in_app(emulator) as app:
        key = (await app.accounts.accounts())[0].account_id_key
        portfolios = await asyncio.gather(*[app.accounts.portfolio(key) for _ in range(5)])
        assert requests_to(emulator, "portfolio") == 1  # one page holds the seeded positions
        assert len({p.fetched_at_unix_ms for p in portfolios}) == 1
        stats = {s.name: s for s in app.accounts.cache_stats()}["portfolios"]
        assert (stats.misses, stats.coalesced, stats.upstream_calls) == (1, 4, 1)


async def test_the_accounts_list_is_cached_for_open_and_closed_views_alike(emulator: Emulator) -> None:
    async with logged_in_app(emulator) as app:
        open_only = await app.accounts.accounts()
        everything = await app.accounts.accounts(include_closed=True)
        assert len(everything) > len(open_only)  # the seeded book has a closed account
        assert requests_to(emulator, "accounts_list") == 1


async def test_order_activity_invalidates_that_accounts_balance_and_portfolio(emulator: Emulator) -> None:
    async with logged_in_app(emulator) as app:
        first, second = [a.account_id_key for a in await app.accounts.accounts()][:2]
        for key in (first, second):
            await app.accounts.balance(key)
            await app.accounts.portfolio(key)
        app.accounts.invalidate_after_order_activity(first)
        for key in (first, second):
            await app.accounts.balance(key)
            await app.accounts.portfolio(key)
        # Only the first account went upstream again.
        assert requests_to(emulator, "balance") == 3
        assert requests_to(emulator, "portfolio") == 3
        app.accounts.invalidate_after_order_activity()  # every account
        for key in (first, second):
            await app.accounts.balance(key)
        assert requests_to(emulator, "balance") == 5


async def test_a_fill_shows_up_after_invalidation(emulator: Emulator) -> None:
    """What the order code relies on: after the hook, clients see the portfolio as E*TRADE has it."""
    async with logged_in_app(emulator) as app:
        key = next(a.account_id_key for a in await app.accounts.accounts() if a.account_mode == "MARGIN")
        before = await app.accounts.portfolio(key)
        emulator.book.apply_fill(key, "KO", 7, 60.0, emulator.clock.now())
        assert await app.accounts.portfolio(key) == before  # still the cached view
        app.accounts.invalidate_after_order_activity(key)
        after = await app.accounts.portfolio(key)
        assert sum(p.quantity for p in after.positions if p.symbol == "KO") == 7 + sum(
            p.quantity for p in before.positions if p.symbol == "KO"
        )


class _Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t


async def test_a_load_under_way_during_invalidation_answers_its_callers_but_is_not_kept() -> None:
    cache: TtlCache[str, int] = TtlCache("test", _Clock(), ttl=60)
    release = asyncio.Event()
    loads = 0

    async def slow_load() -> int:
        nonlocal loads
        loads += 1
        await release.wait()
        return loads

    reader = asyncio.create_task(cache.get("k", slow_load))
    await asyncio.sleep(0)  # the load is now under way
    assert cache.invalidate() == 0
    release.set()
    assert await reader == 1  # the caller that was waiting still gets its answer
    assert await cache.get("k", slow_load) == 2  # but the next read loads afresh
    assert await cache.get("k", slow_load) == 2  # and that one is kept
    assert cache.stats().invalidations == 1


async def test_a_failed_load_is_not_kept() -> None:
    cache: TtlCache[str, int] = TtlCache("test", _Clock(), ttl=60)

    async def broken() -> int:
        raise RuntimeError("upstream down")

    async def working() -> int:
        return 7

    with pytest.raises(RuntimeError):
        await cache.get("k", broken)
    assert await cache.get("k", working) == 7
