"""The cap on requests waiting for a human's approval (ETRADE_MAX_PENDING_ORDERS), through the real gRPC
daemon against the emulator: what is refused is refused before E*TRADE hears of it, the human can make
room, and neither a basket longer than the cap nor a flood of previews takes the human's controls away."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from broker_client.errors import ErrorCode, PolicyRefused
from emulator import Emulator
from tests.harness.processes import child_env, etradectl
from tests.harness.support import requests_to
from tests.harness.trading import Trader, last_price, spec, trading_daemon

pytestmark = pytest.mark.anyio

CAP = 3


@pytest.fixture
async def capped(session_emu: Emulator, short_dir: Path) -> AsyncIterator[Trader]:
    async with trading_daemon(session_emu, short_dir, max_pending_orders=CAP) as running:
        yield running


def requests_in_all(emulator: Emulator) -> int:
    """Every request the emulator has served, on any route."""
    return sum(emulator.stats()["requests_by_route"].values())


async def preview_id(trader: Trader, symbol: str = "KO") -> str:
    return (await trader.model.preview_order(spec(trader.account_key(), symbol))).pending.pending_id


async def test_the_preview_past_the_cap_is_refused_before_etrade_and_the_human_can_make_room(
    capped: Trader, short_dir: Path
) -> None:
    waiting = [await preview_id(capped, symbol) for symbol in ("KO", "PEP", "MSFT")]
    assert requests_to(capped.emulator, "order_preview") == CAP

    asked = requests_in_all(capped.emulator)
    # More refusals than the circuit breaker's threshold (5): a basket longer than the cap must not
    # halt trading, which would also stop the human confirming the orders that wait.
    for _ in range(6):
        with pytest.raises(PolicyRefused) as refused:
            await preview_id(capped, "AAPL")
        error = refused.value
        assert error.code is ErrorCode.TOO_MANY_PENDING
        assert f"{CAP} orders already wait" in error.message and "ETRADE_MAX_PENDING_ORDERS" in error.message
        assert "etradectl orders pending" in error.hint and "etradectl orders reject ID" in error.hint
    assert requests_in_all(capped.emulator) == asked  # E*TRADE heard nothing of them, not even a quote
    assert requests_to(capped.emulator, "order_preview") == CAP
    assert (await capped.operator.trading_state()).halted is False
    assert {p.pending.pending_id for p in (await capped.operator.list_pending()).pending} == set(waiting)

    # The human follows the hint, with the real etradectl.
    rejected = await asyncio.to_thread(
        etradectl, child_env(short_dir), capped.daemon.socket, "orders", "reject", waiting[0]
    )
    assert rejected.code == 0, rejected.stderr
    fourth = await preview_id(capped, "AAPL")
    assert requests_to(capped.emulator, "order_preview") == CAP + 1
    with pytest.raises(PolicyRefused) as full_again:
        await preview_id(capped, "IBM")
    assert full_again.value.code is ErrorCode.TOO_MANY_PENDING

    # Or waits: expired orders make room too.
    capped.emulator.clock.advance(timedelta(seconds=301))  # the default lifetime is 300 s
    await preview_id(capped, "IBM")
    assert fourth not in {p.pending.pending_id for p in (await capped.operator.list_pending()).pending}
    assert requests_to(capped.emulator, "order_preview") == CAP + 2


async def test_concurrent_previews_cannot_overshoot_the_cap(capped: Trader) -> None:
    results = await asyncio.gather(*(preview_id(capped, "KO") for _ in range(8)), return_exceptions=True)
    made = [r for r in results if isinstance(r, str)]
    refused = [r for r in results if isinstance(r, PolicyRefused)]
    assert len(made) == CAP and len(refused) == 8 - CAP, results
    assert {r.code for r in refused} == {ErrorCode.TOO_MANY_PENDING}
    assert requests_to(capped.emulator, "order_preview") == CAP
    assert len((await capped.operator.list_pending()).pending) == CAP


async def test_a_full_list_of_orders_never_blocks_a_cancel_and_one_cancel_waits_per_order(capped: Trader) -> None:
    key = capped.account_key()
    far = f"{last_price(capped.emulator, 'KO') * 0.6:.2f}"  # rests OPEN at the emulator
    pending = (await capped.model.preview_order(spec(key, "KO", price_type="LIMIT", limit_price=far))).pending
    order_id = (
        await capped.model.place_confirmed(pending.pending_id, await capped.code_of(pending.pending_id))
    ).order_id
    for symbol in ("KO", "PEP", "MSFT"):
        await preview_id(capped, symbol)  # the orders' list is full

    first = (await capped.model.request_cancel(key, order_id)).pending
    assert first.kind == "CANCEL"
    asked = requests_in_all(capped.emulator)
    again = [(await capped.model.request_cancel(key, order_id)).pending.pending_id for _ in range(CAP + 2)]
    assert set(again) == {first.pending_id}  # the one that waits, not a new one each time
    assert requests_in_all(capped.emulator) == asked  # nor a new look at E*TRADE
    cancels = [p for p in (await capped.operator.list_pending()).pending if p.pending.kind == "CANCEL"]
    assert [p.pending.pending_id for p in cancels] == [first.pending_id]

    await capped.operator.reject_pending(first.pending_id)
    fresh = (await capped.model.request_cancel(key, order_id)).pending
    assert fresh.kind == "CANCEL" and fresh.pending_id != first.pending_id


async def test_concurrent_cancels_of_one_order_make_one_pending_cancel(capped: Trader) -> None:
    key = capped.account_key()
    far = f"{last_price(capped.emulator, 'KO') * 0.6:.2f}"
    pending = (await capped.model.preview_order(spec(key, "KO", price_type="LIMIT", limit_price=far))).pending
    order_id = (
        await capped.model.place_confirmed(pending.pending_id, await capped.code_of(pending.pending_id))
    ).order_id
    answers = await asyncio.gather(*(capped.model.request_cancel(key, order_id) for _ in range(8)))
    assert len({a.pending.pending_id for a in answers}) == 1
    assert len((await capped.operator.list_pending()).pending) == 1


async def test_a_model_filling_the_cancels_never_stops_the_human_cancelling_an_open_order(
    capped: Trader, short_dir: Path
) -> None:
    """The human's cancel is a safety control: a model asking to cancel every open order, again and
    again, must not fill a list the human's own `etradectl orders cancel` then finds full."""
    key = capped.account_key()
    open_orders: list[int] = []
    for symbol in ("KO", "PEP", "MSFT", "IBM"):  # one more resting order than the cap
        far = f"{last_price(capped.emulator, symbol) * 0.6:.2f}"
        pending = (await capped.model.preview_order(spec(key, symbol, price_type="LIMIT", limit_price=far))).pending
        code = await capped.code_of(pending.pending_id)
        open_orders.append((await capped.model.place_confirmed(pending.pending_id, code)).order_id)

    for order_id in open_orders * 3:
        with contextlib.suppress(PolicyRefused):
            await capped.model.request_cancel(key, order_id)

    for order_id in (open_orders[0], open_orders[-1]):
        done = await asyncio.to_thread(
            etradectl,
            child_env(short_dir),
            capped.daemon.socket,
            "orders",
            "cancel",
            str(order_id),
            "--account",
            key,
            "--yes",
        )
        assert done.code == 0, done.stderr
        capped.emulator.clock.advance(timedelta(seconds=1))  # the emulator's cancel takes a moment
        assert (await capped.operator.get_order(key, order_id)).order.status == "CANCELLED"
