"""Risk checks, the halt switch and the circuit breaker: each refuses (or warns) and lets a good order through."""

from __future__ import annotations

from pathlib import Path

import pytest

from broker_client.errors import ErrorCode, PolicyRefused, UpstreamError
from emulator import Emulator
from tests.support import requests_to
from tests.trading import Trader, last_price, spec, trading_daemon

pytestmark = pytest.mark.anyio


async def place(trader: Trader, **fields: object) -> int:
    key = str(fields.pop("account", trader.account_key()))
    pending = (await trader.model.preview_order(spec(key, **fields))).pending  # type: ignore[arg-type]
    return (await trader.model.place_confirmed(pending.pending_id, await trader.code_of(pending.pending_id))).order_id


async def refused(trader: Trader, **fields: object) -> PolicyRefused:
    key = str(fields.pop("account", trader.account_key()))
    with pytest.raises(PolicyRefused) as caught:
        await trader.model.preview_order(spec(key, **fields))  # type: ignore[arg-type]
    return caught.value


def holding(trader: Trader, mode: str) -> tuple[str, str, int]:
    key = trader.account_key(mode)
    account = trader.emulator.book.account(key)
    assert account is not None
    position = next(p for p in account.positions.values() if p.quantity > 0)
    return key, position.symbol, int(position.quantity)


async def test_buying_power(trader: Trader) -> None:
    key = trader.account_key("CASH")
    account = trader.emulator.book.account(key)
    assert account is not None
    price = last_price(trader.emulator, "KO")
    error = await refused(trader, account=key, quantity=int(account.cash / price) + 3)
    assert error.code is ErrorCode.INSUFFICIENT_BUYING_POWER
    assert "cash buying power" in error.message
    assert await place(trader, account=key, quantity=1) > 0


async def test_buying_power_warns_near_the_limit(session_emu: Emulator, short_dir: Path) -> None:
    async with trading_daemon(session_emu, short_dir, max_position_percent=100) as trader:
        key = trader.account_key("CASH")
        account = session_emu.book.account(key)
        assert account is not None
        price = last_price(session_emu, "KO") * 1.001  # market buys are estimated at the ask
        pending = (await trader.model.preview_order(spec(key, quantity=int(account.cash * 0.9 / price)))).pending
        assert [w.check for w in pending.warnings] == ["buying_power"]
        assert "% of the account's cash buying power" in pending.warnings[0].message
        placed = await trader.model.place_confirmed(pending.pending_id, await trader.code_of(pending.pending_id))
        assert placed.order_id > 0  # a warning does not refuse


async def test_position(session_emu: Emulator, short_dir: Path) -> None:
    async with trading_daemon(session_emu, short_dir, max_order_value=1_000_000) as trader:
        key, symbol, held = holding(trader, "CASH")
        error = await refused(trader, account=key, symbol=symbol, action="SELL", quantity=held + 1)
        assert error.code is ErrorCode.INSUFFICIENT_SHARES
        assert await place(trader, account=key, symbol=symbol, action="SELL", quantity=1) > 0
        cover = await refused(trader, account=key, symbol=symbol, action="BUY_TO_COVER", quantity=1)
        assert cover.code is ErrorCode.INSUFFICIENT_SHARES
        short = await refused(trader, account=key, symbol="PEP", action="SELL_SHORT", quantity=1)
        assert short.code is ErrorCode.INSUFFICIENT_BUYING_POWER and "margin account" in short.message


async def test_concentration(session_emu: Emulator, short_dir: Path) -> None:
    async with trading_daemon(session_emu, short_dir, max_position_percent=2) as trader:
        error = await refused(trader, symbol="MSFT", quantity=10)  # ~4,800 of a margin account
        assert error.code is ErrorCode.CONCENTRATION_LIMIT
        assert "ETRADE_MAX_POSITION_PERCENT" in error.message
        pending = (await trader.model.preview_order(spec(trader.account_key(), "KO", 1))).pending
        assert not pending.warnings
        assert await place(trader, quantity=1) > 0


async def test_daily_order_count(session_emu: Emulator, short_dir: Path) -> None:
    async with trading_daemon(session_emu, short_dir, max_daily_orders=2) as trader:
        assert await place(trader, quantity=1) > 0
        second = (await trader.model.preview_order(spec(trader.account_key(), "PEP", 1))).pending
        third = (await trader.model.preview_order(spec(trader.account_key(), "T", 1))).pending
        await trader.model.place_confirmed(second.pending_id, await trader.code_of(second.pending_id))
        # The third was previewed before the limit was reached; its confirmation is refused all the same.
        with pytest.raises(PolicyRefused) as late:
            await trader.model.place_confirmed(third.pending_id, await trader.code_of(third.pending_id))
        assert late.value.code is ErrorCode.DAILY_LIMIT
        error = await refused(trader, quantity=1)
        assert error.code is ErrorCode.DAILY_LIMIT and "ETRADE_MAX_DAILY_ORDERS" in error.message
        assert requests_to(session_emu, "order_place") == 2


async def test_daily_value(session_emu: Emulator, short_dir: Path) -> None:
    async with trading_daemon(session_emu, short_dir, max_daily_value=200) as trader:
        price = last_price(session_emu, "KO")
        assert await place(trader, quantity=int(150 / price) or 1) > 0
        error = await refused(trader, quantity=2)
        assert error.code is ErrorCode.DAILY_LIMIT and "ETRADE_MAX_DAILY_VALUE" in error.message


async def test_volatility_is_a_warning_not_a_refusal(session_emu: Emulator, short_dir: Path) -> None:
    async with trading_daemon(session_emu, short_dir, volatility_warn_percent=0.01) as trader:
        pending = (await trader.model.preview_order(spec(trader.account_key(), "TSLA", 1))).pending
        assert [w.check for w in pending.warnings] == ["volatility"]
        assert "volatile" in pending.warnings[0].message
        placed = await trader.model.place_confirmed(pending.pending_id, await trader.code_of(pending.pending_id))
        assert placed.order_id > 0


async def test_allow_and_block_lists(session_emu: Emulator, short_dir: Path) -> None:
    async with trading_daemon(session_emu, short_dir, blocked_symbols=("TSLA",)) as trader:
        allowed = trader.account_key("CASH")
    async with trading_daemon(session_emu, short_dir, allowed_accounts=(allowed,), blocked_symbols=("TSLA",)) as trader:
        assert (await refused(trader, account=trader.account_key("MARGIN"))).code is ErrorCode.ACCOUNT_NOT_ALLOWED
        assert (await refused(trader, account=allowed, symbol="TSLA")).code is ErrorCode.SYMBOL_NOT_ALLOWED
        assert await place(trader, account=allowed, quantity=1) > 0


async def test_the_halt_switch(trader: Trader) -> None:
    pending = (await trader.model.preview_order(spec(trader.account_key()))).pending
    state = await trader.operator.halt("going to lunch")
    assert state.halted and state.halt_reason == "going to lunch" and state.halted_by.startswith("etradectl")
    for attempt in (
        trader.model.preview_order(spec(trader.account_key())),
        trader.model.place_confirmed(pending.pending_id, await trader.code_of(pending.pending_id)),
        trader.operator.confirm_pending(pending.pending_id, pending.digest),
        trader.model.request_cancel(trader.account_key(), 1),
    ):
        with pytest.raises(PolicyRefused) as caught:
            await attempt
        assert caught.value.code is ErrorCode.TRADING_HALTED
        assert "going to lunch" in caught.value.message
    assert requests_to(trader.emulator, "order_place") == 0
    assert not (await trader.operator.resume()).halted
    # The pending order survived the halt and can still be confirmed.
    placed = await trader.model.place_confirmed(pending.pending_id, await trader.code_of(pending.pending_id))
    assert placed.order_id > 0


async def test_a_halt_survives_a_restart(session_emu: Emulator, short_dir: Path) -> None:
    state_dir = short_dir / "state"
    async with trading_daemon(session_emu, short_dir, state_dir=state_dir) as first:
        await first.operator.halt("maintenance")
    async with trading_daemon(session_emu, short_dir, state_dir=state_dir) as second:
        assert (await second.operator.trading_state()).halt_reason == "maintenance"
        assert (await refused(second)).code is ErrorCode.TRADING_HALTED
        await second.operator.resume()
        assert await place(second, quantity=1) > 0


async def test_the_circuit_breaker_halts_after_repeated_trouble(session_emu: Emulator, short_dir: Path) -> None:
    async with trading_daemon(session_emu, short_dir, breaker_threshold=3) as trader:
        key = trader.account_key()
        pending = (await trader.model.preview_order(spec(key))).pending
        await refused(trader, price_type="LIMIT", limit_price="1.00")  # 1: outside the band
        with pytest.raises(PolicyRefused):
            await trader.model.place_confirmed(pending.pending_id, "WRONG-CODE")  # 2: a wrong code
        assert not (await trader.operator.trading_state()).halted
        session_emu.faults.add({"match": "order_preview", "status": 400, "code": 1021, "message": "no", "count": 1})
        with pytest.raises(UpstreamError):  # 3: E*TRADE refuses the preview → trips
            await trader.model.preview_order(spec(key, quantity=1))
        state = await trader.operator.trading_state()
        assert state.halted and state.halted_by == "circuit breaker"
        assert "3 problems" in state.halt_reason and "UPSTREAM_REJECTED" in state.halt_reason
        assert (await refused(trader, quantity=1)).code is ErrorCode.TRADING_HALTED
        events = [e.event for e in (await trader.operator.list_audit(limit=100)).entries]
        assert "trading.halted" in events
        await trader.operator.resume()
        assert await place(trader, quantity=1) > 0
