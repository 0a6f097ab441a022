"""The caches', limiter's and retries' statistics in the status RPC, as clients see them."""

from __future__ import annotations

import asyncio

import pytest

from broker_client.client import BrokerClient
from daemon.gateway.retry import RetryPolicy
from tests.harness.daemons import RunningDaemon

pytestmark = pytest.mark.anyio


async def test_status_counts_hits_misses_coalescing_upstream_calls_and_limiter_use(
    broker: BrokerClient, daemon: RunningDaemon
) -> None:
    await asyncio.gather(*[broker.get_quotes(["AAPL"]) for _ in range(4)])
    await broker.get_quotes(["AAPL", "MSFT"])
    key = (await broker.list_accounts()).accounts[0].account_id_key
    await broker.get_balance(key)
    await broker.get_balance(key)

    performance = (await broker.get_status()).performance
    caches = {c.name: c for c in performance.caches}
    quotes = caches["quotes"]
    assert quotes.hits + quotes.coalesced == 4  # the first request missed, the others shared or hit
    assert quotes.misses == 2  # AAPL once, MSFT once
    assert quotes.upstream_calls == 2
    assert quotes.entries == 2
    assert quotes.ttl_seconds in (daemon.app.settings.quote_ttl_open, daemon.app.settings.quote_ttl_closed)
    assert (caches["balances"].hits, caches["balances"].misses) == (1, 1)
    assert caches["accounts"].upstream_calls == 1
    limits = {m.module: m for m in performance.rate_limits}
    assert set(limits) == {"market", "accounts", "orders", "overall"}
    assert limits["market"].granted == 2
    assert limits["accounts"].granted == 2
    assert limits["overall"].granted == 4
    assert limits["market"].rate_per_second == daemon.app.settings.market_requests_per_second
    assert performance.retries.retries == 0


async def test_status_counts_retries(broker: BrokerClient, daemon: RunningDaemon) -> None:
    daemon.app.gateway.policy = RetryPolicy(retries=2, base_delay=0.001)
    daemon.emulator.faults.add({"match": "quote", "status": 500, "count": 1})
    await broker.get_quotes(["AAPL"])
    retries = (await broker.get_status()).performance.retries
    assert (retries.retries, retries.recovered, retries.gave_up) == (1, 1, 0)
