"""Retries of idempotent reads against the emulator's injected faults, within the caller's
deadline; requests sent with ``once()`` are never retried; E*TRADE's rate-limit page slows the
limiter down. Attempts are counted at the emulator."""

from __future__ import annotations

import random

import pytest

from broker_client.errors import ErrorCode, NotFound, RateLimited, UpstreamError
from daemon.etrade.upstream import EtradeApiError
from daemon.gateway.deadline import Deadline
from daemon.gateway.retry import RetryPolicy, is_transient
from emulator import Emulator
from tests.harness.support import requests_to
from tests.rpc.daemon.domain_app import logged_in_app
from tests.unit.daemon.fake_time import FakeTime

pytestmark = pytest.mark.anyio

QUOTE = "/v1/market/quote/AAPL"


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 500},  # E*TRADE's 500 / code 100 "service not currently available"
        {"status": 503, "code": 670, "message": "Currently undergoing maintenance"},
        {"status": 400, "code": 163, "message": "Quote service is not available at this time"},
        {"drop": True},  # connection closed without an answer
    ],
    ids=["500", "503", "code-163", "dropped"],
)
async def test_a_transient_failure_of_a_read_is_retried(emulator: Emulator, fault: dict[str, object]) -> None:
    async with logged_in_app(emulator) as app:
        emulator.faults.add({"match": "quote", "count": 1, **fault})
        payload = await app.gateway.get_json("market", QUOTE, {}, Deadline.after(10))
        assert payload is not None and "QuoteResponse" in payload
        assert requests_to(emulator, "quote") == 2
        assert (app.gateway.stats().retries, app.gateway.stats().recovered) == (1, 1)


async def test_a_read_that_times_out_is_retried_within_the_deadline(emulator: Emulator) -> None:
    async with logged_in_app(emulator, upstream_timeout=0.3) as app:
        emulator.faults.add({"match": "quote", "count": 1, "latency_ms": 2000})
        payload = await app.gateway.get_json("market", QUOTE, {}, Deadline.after(10))
        assert payload is not None
        assert requests_to(emulator, "quote") == 2


async def test_retries_stop_after_the_configured_number(emulator: Emulator) -> None:
    async with logged_in_app(emulator, upstream_retries=2) as app:
        emulator.faults.add({"match": "quote", "status": 500})
        with pytest.raises(EtradeApiError) as caught:
            await app.gateway.get_json("market", QUOTE, {}, Deadline.after(10))
        assert caught.value.etrade_code == 100  # E*TRADE's own code survives the retries
        assert "after 3 attempts" in caught.value.message
        assert requests_to(emulator, "quote") == 3
        assert app.gateway.stats().gave_up == 1


async def test_no_retry_when_the_deadline_leaves_no_room_for_one(emulator: Emulator) -> None:
    async with logged_in_app(emulator, retry_backoff=2.0) as app:  # the first retry would wait >= 1 s
        emulator.faults.add({"match": "quote", "status": 500})
        with pytest.raises(UpstreamError):
            await app.gateway.get_json("market", QUOTE, {}, Deadline.after(1.0))
        assert requests_to(emulator, "quote") == 1
        assert app.gateway.stats().retries == 0


async def test_a_refusal_that_would_fail_again_is_not_retried(emulator: Emulator) -> None:
    async with logged_in_app(emulator) as app:
        with pytest.raises(NotFound) as caught:
            await app.accounts.balance("A" * 22)  # a well-formed key that is not the user's: 400/100
        assert caught.value.code is ErrorCode.UNKNOWN_ACCOUNT
        assert requests_to(emulator, "balance") == 1


async def test_a_request_sent_once_is_never_retried(emulator: Emulator) -> None:
    """``once()`` is the path for order placement: one attempt, whatever the failure."""
    async with logged_in_app(emulator) as app:
        emulator.faults.add({"match": "quote", "status": 500, "count": 1})
        http = app.upstream.http
        with pytest.raises(EtradeApiError):
            await app.gateway.once("market", http.get_json, QUOTE, {}, deadline=Deadline.after(10))
        assert requests_to(emulator, "quote") == 1
        assert app.gateway.stats().retries == 0


async def test_the_rate_limit_page_slows_the_module_down_and_the_read_is_retried(emulator: Emulator) -> None:
    async with logged_in_app(emulator, market_requests_per_second=100.0) as app:
        emulator.configure(rate_limits={"market": 1})
        await app.gateway.get_json("market", QUOTE, {}, Deadline.after(10))  # empties E*TRADE's bucket
        payload = await app.gateway.get_json("market", QUOTE, {}, Deadline.after(10))
        assert payload is not None  # answered after backing off
        market = next(s for s in app.gateway.limiter.stats() if s.module == "market")
        assert market.upstream_rate_limited >= 1
        assert market.current_rate_per_second < 100.0
        assert emulator.stats()["rate_limited_by_module"]["market"] >= 1


async def test_the_daemon_limiter_refuses_before_anything_is_sent(emulator: Emulator) -> None:
    time = FakeTime()
    async with logged_in_app(
        emulator, time_source=time, market_requests_per_second=0.2, market_burst=1.0, requests_per_minute=600
    ) as app:
        time.now += 60  # the limiter starts empty; a minute later its one slot is free
        await app.gateway.get_json("market", QUOTE, {}, Deadline.after(10))
        with pytest.raises(RateLimited) as caught:
            await app.gateway.get_json("market", QUOTE, {}, Deadline.after(2))
        assert caught.value.retry_after is not None and caught.value.retry_after > 4
        assert requests_to(emulator, "quote") == 1


def test_which_failures_are_transient() -> None:
    assert is_transient(EtradeApiError(500, 100, "service not available"))
    assert is_transient(EtradeApiError(400, 163, "quote service not available"))
    assert not is_transient(EtradeApiError(400, 100, "Account key does not belong to user"))
    assert not is_transient(EtradeApiError(400, 1019, "Invalid symbol"))
    assert is_transient(UpstreamError(ErrorCode.UPSTREAM_TIMEOUT, "no answer"))
    assert is_transient(UpstreamError(ErrorCode.UPSTREAM_UNAVAILABLE, "connection refused"))
    assert is_transient(RateLimited(ErrorCode.RATE_LIMITED, "E*TRADE's rate limit"))
    assert not is_transient(UpstreamError(ErrorCode.UPSTREAM_ERROR, "not JSON"))


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    policy = RetryPolicy(retries=5, base_delay=0.25, max_delay=1.0)
    rng = random.Random(1)
    for retry, ceiling in [(1, 0.25), (2, 0.5), (3, 1.0), (4, 1.0)]:
        delays = {policy.backoff(retry, rng) for _ in range(50)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1  # jittered, not lockstep
