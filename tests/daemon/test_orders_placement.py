"""The order sent is the order approved: re-checked against a fresh quote when the code is claimed,
market orders optionally capped, and a place request never sent twice — counted at the emulator."""

from __future__ import annotations

import json
from decimal import ROUND_FLOOR, Decimal
from pathlib import Path

import pytest

from broker_client.errors import ErrorCode, PolicyRefused, UpstreamError
from emulator import Emulator
from protos.broker.v1 import events_pb2
from tests.daemon.test_orders_flow import operator_runs
from tests.support import admin, requests_to
from tests.trading import Trader, spec, trading_daemon

pytestmark = pytest.mark.anyio

#: What E*TRADE answers a request whose token it does not accept (the body of its 401).
TOKEN_REJECTED = {"status": 401, "message": "oauth_problem=token_rejected"}


def move(emulator: Emulator, symbol: str, **how: float) -> dict[str, float]:
    """Move the market the way a test or a demo does: through the emulator's admin interface."""
    answer: dict[str, float] = admin(emulator.base_url, "prices", {"symbol": symbol, **how})
    return answer


async def preview(trader: Trader, symbol: str = "KO", quantity: int = 14, **fields: str) -> tuple[str, str]:
    response = await trader.model.preview_order(spec(trader.account_key(), symbol, quantity, **fields))
    pending_id = response.pending.pending_id
    return pending_id, await trader.code_of(pending_id)


async def audit_events(trader: Trader) -> list[tuple[str, dict[str, object]]]:
    entries = (await trader.operator.list_audit(limit=200)).entries
    return [(e.event, json.loads(e.data_json)) for e in entries]


async def test_a_market_move_beyond_the_tolerance_refuses_the_approved_order_and_sends_nothing(
    session_emu: Emulator, short_dir: Path
) -> None:
    # The attack: a MARKET buy previewed under the value cap, placed with the human's code after KO
    # jumped 90 %. The quote the preview fetched is still in the daemon's cache (the clock is frozen):
    # only a fresh quote sees the move.
    async with trading_daemon(session_emu, short_dir, max_order_value=1000.0) as trader:
        pending_id, code = await preview(trader, "KO", 14)
        move(session_emu, "KO", factor=1.9)
        with pytest.raises(PolicyRefused) as refused:
            await trader.model.place_confirmed(pending_id, code)
        assert refused.value.code is ErrorCode.PRICE_MOVED
        assert (
            "KO moved +90.0 % since the preview" in refused.value.message
            and "preview the order again" in refused.value.message
        )
        assert "ETRADE_PLACEMENT_DRIFT_PERCENT" in refused.value.message
        assert requests_to(session_emu, "order_place") == 0 and trader.orders_at_emulator() == []
        refusal = [data for event, data in await audit_events(trader) if event == "order.refused_at_placement"]
        assert len(refusal) == 1 and refusal[0]["code"] == "PRICE_MOVED" and "KO moved +90" in str(refusal[0]["reason"])
        # The market did it, not the model: the circuit breaker did not count it.
        assert (await trader.operator.trading_state()).breaker_recent == 0
        # The approval is spent: the same code cannot try again, and the pending order is gone from the list.
        with pytest.raises(PolicyRefused) as again:
            await trader.model.place_confirmed(pending_id, code)
        assert again.value.code is ErrorCode.CONFIRMATION_VOIDED and "refused when it was about to be sent" in str(
            again.value
        )
        assert (await trader.operator.list_pending()).pending == []


async def test_the_operators_confirmation_is_checked_against_the_market_too(
    session_emu: Emulator, short_dir: Path
) -> None:
    async with trading_daemon(session_emu, short_dir) as trader:
        pending_id, _ = await preview(trader, "PEP", 3)
        move(session_emu, "PEP", factor=0.9)
        listing = await trader.operator.list_pending()
        digest = next(p.pending.digest for p in listing.pending if p.pending.pending_id == pending_id)
        with pytest.raises(PolicyRefused) as refused:
            await trader.operator.confirm_pending(pending_id, digest)
        assert refused.value.code is ErrorCode.PRICE_MOVED and "PEP moved -10.0 %" in refused.value.message
        assert requests_to(session_emu, "order_place") == 0


async def test_a_move_within_the_tolerance_places_exactly_one_order(session_emu: Emulator, short_dir: Path) -> None:
    async with trading_daemon(session_emu, short_dir, placement_drift_percent=2.0) as trader:
        pending_id, code = await preview(trader, "KO", 14)
        quotes_before = requests_to(session_emu, "quote")
        move(session_emu, "KO", factor=1.01)
        placed = await trader.model.place_confirmed(pending_id, code)
        orders = trader.orders_at_emulator()
        assert [o.order_id for o in orders] == [placed.order_id]
        assert requests_to(session_emu, "order_place") == 1
        assert requests_to(session_emu, "quote") == quotes_before + 1  # the fresh look, not the cache


async def test_the_value_cap_is_checked_again_at_the_moment_of_sending(session_emu: Emulator, short_dir: Path) -> None:
    # A tolerance wide enough to let the move through: the cap still holds on the value at today's price.
    async with trading_daemon(session_emu, short_dir, max_order_value=1000.0, placement_drift_percent=100.0) as trader:
        pending_id, code = await preview(trader, "KO", 14)
        move(session_emu, "KO", factor=1.9)
        with pytest.raises(PolicyRefused) as refused:
            await trader.model.place_confirmed(pending_id, code)
        assert refused.value.code is ErrorCode.ORDER_VALUE_LIMIT and "Nothing was sent" in refused.value.message
        assert requests_to(session_emu, "order_place") == 0


async def test_buying_power_is_checked_again_at_the_moment_of_sending(session_emu: Emulator, short_dir: Path) -> None:
    async with trading_daemon(
        session_emu, short_dir, max_order_value=1e9, max_daily_value=1e9, max_position_percent=100.0,
        placement_drift_percent=100.0,
    ) as trader:  # fmt: skip
        balance = await trader.model.get_balance(trader.account_key())
        power = balance.balance.margin_buying_power
        price = session_emu.market.observe("KO", session_emu.clock.now()).ask
        quantity = int(power * 0.7 / price)  # fits at the preview...
        pending_id, code = await preview(trader, "KO", quantity)
        move(session_emu, "KO", factor=1.6)  # ...and no longer
        with pytest.raises(PolicyRefused) as refused:
            await trader.model.place_confirmed(pending_id, code)
        assert refused.value.code is ErrorCode.INSUFFICIENT_BUYING_POWER
        assert requests_to(session_emu, "order_place") == 0


async def test_a_protected_market_order_reaches_the_emulator_as_a_limit_at_the_capped_price(
    session_emu: Emulator, short_dir: Path
) -> None:
    async with trading_daemon(
        session_emu, short_dir, market_order_protection=True, placement_drift_percent=2.0
    ) as trader:
        ask = Decimal(str(session_emu.market.observe("KO", session_emu.clock.now()).ask))
        cap = (ask * Decimal("1.02")).quantize(Decimal("0.01"), rounding=ROUND_FLOOR)
        response = await trader.model.preview_order(spec(trader.account_key(), "KO", 5))  # MARKET
        pending = response.pending
        assert pending.order.price_type == "LIMIT" and Decimal(pending.order.limit_price) == cap
        assert any("market order protection" in w.message for w in pending.warnings)
        await trader.model.place_confirmed(pending.pending_id, await trader.code_of(pending.pending_id))
        (order,) = trader.orders_at_emulator()
        assert order.spec.price_type == "LIMIT" and Decimal(str(order.spec.limit_price)) == cap


async def test_a_place_answered_401_is_sent_once_then_the_same_code_places_it_once(trader: Trader) -> None:
    emulator = trader.emulator
    pending_id, code = await preview(trader, "KO", 2)
    renewals = requests_to(emulator, "renew_access_token")
    admin(emulator.base_url, "faults", {"match": "order_place", "count": 1, **TOKEN_REJECTED})
    with pytest.raises(UpstreamError) as refused:
        await trader.model.place_confirmed(pending_id, code)
    assert refused.value.code is ErrorCode.REQUEST_NOT_RECEIVED
    assert "did NOT take effect" in refused.value.message and "can be confirmed again, once" in refused.value.message
    assert requests_to(emulator, "order_place") == 1  # never re-sent after the 401
    assert trader.orders_at_emulator() == []
    assert requests_to(emulator, "renew_access_token") == renewals + 1  # the session was repaired
    entry = (await trader.operator.journal(everything=True)).entries[0]
    assert entry.state == "NOT_PLACED"
    # The human's approval stands: the same code, shown again in `etradectl orders pending`, places it once.
    assert await trader.code_of(pending_id) == code
    placed = await trader.model.place_confirmed(pending_id, code)
    assert [o.order_id for o in trader.orders_at_emulator()] == [placed.order_id]
    assert requests_to(emulator, "order_place") == 2
    with pytest.raises(PolicyRefused) as used:
        await trader.model.place_confirmed(pending_id, code)
    assert used.value.code is ErrorCode.CONFIRMATION_USED
    events = [event for event, _ in await audit_events(trader)]
    assert "order.refused_at_authentication" in events and "confirmation.released" in events


async def test_a_cancel_answered_401_is_sent_once_and_can_be_confirmed_again(trader: Trader) -> None:
    emulator = trader.emulator
    # A buy limit 30 % under the market (inside the 50 % band) rests OPEN at the emulator.
    price = Decimal(str(emulator.market.observe("KO", emulator.clock.now()).bid)) * Decimal("0.7")
    limit = str(price.quantize(Decimal("0.01")))
    pending_id, code = await preview(trader, "KO", 2, price_type="LIMIT", limit_price=limit)
    placed = await trader.model.place_confirmed(pending_id, code)
    cancel = (await trader.model.request_cancel(trader.account_key(), placed.order_id)).pending
    cancel_code = await trader.code_of(cancel.pending_id)
    admin(emulator.base_url, "faults", {"match": "order_cancel", "count": 1, **TOKEN_REJECTED})
    with pytest.raises(UpstreamError) as refused:
        await trader.model.cancel_confirmed(cancel.pending_id, cancel_code)
    assert refused.value.code is ErrorCode.REQUEST_NOT_RECEIVED
    assert requests_to(emulator, "order_cancel") == 1
    assert [o.status for o in trader.orders_at_emulator()] == ["OPEN"]
    await trader.model.cancel_confirmed(cancel.pending_id, cancel_code)
    assert requests_to(emulator, "order_cancel") == 2
    assert [o.status for o in trader.orders_at_emulator()] == ["CANCEL_REQUESTED"]


async def test_five_refused_attempts_halt_trading_and_status_and_the_event_stream_say_why(
    trader: Trader, short_dir: Path
) -> None:
    key = trader.account_key()
    stream = trader.model.subscribe_events([events_pb2.EVENT_KIND_TRADING_STATE_CHANGED])
    assert (await anext(stream)).kind == events_pb2.EVENT_KIND_STREAM_STARTED
    for _ in range(5):  # limit prices far outside the band: a probing model
        with pytest.raises(PolicyRefused):
            await trader.model.preview_order(spec(key, "KO", 2, price_type="LIMIT", limit_price="1.00"))
    event = await anext(stream)
    await stream.aclose()
    assert event.subject == "disabled" and event.attributes["cause"] == "circuit_breaker"
    assert event.attributes["clients"] == "etrade-mcp/test" and "5 problems" in event.attributes["reason"]

    status = await trader.operator.get_status()
    assert status.trading_halted and status.halted_by == "circuit breaker"
    assert "PRICE_OUT_OF_BAND" in status.halt_reason and "etrade-mcp/test" in status.halt_reason
    assert [(p.operation, p.client, p.code) for p in status.breaker_problems] == [
        ("preview", "etrade-mcp/test", "PRICE_OUT_OF_BAND")
    ] * 5
    shown = await operator_runs(trader, short_dir, "status")
    assert "trading:" in shown.stdout and "HALTED by circuit breaker since" in shown.stdout
    assert shown.stdout.count("preview from etrade-mcp/test: PRICE_OUT_OF_BAND") == 5
    with pytest.raises(PolicyRefused) as halted:
        await trader.model.preview_order(spec(key, "KO", 2))
    assert halted.value.code is ErrorCode.TRADING_HALTED
    assert requests_to(trader.emulator, "order_preview") == 0  # the band refused them before E*TRADE was asked


async def test_bidi_and_control_characters_from_the_model_are_shown_escaped_to_the_operator(
    trader: Trader, short_dir: Path
) -> None:
    evil = "acct\u202eTXE\u200f\u2028\x1b[2Kkey"
    with pytest.raises(Exception) as refused:
        await trader.model.preview_order(spec(evil, "KO", 2))
    assert getattr(refused.value, "code", None) is ErrorCode.UNKNOWN_ACCOUNT
    await preview(trader, "KO", 2)  # a pending order for `orders pending`

    human = await operator_runs(trader, short_dir, "audit", "--limit", "10")
    assert human.code == 0, human.stderr
    assert "acct\\u202eTXE\\u200f\\u2028\\x1b[2Kkey" in human.stdout
    as_json = await operator_runs(trader, short_dir, "--json", "audit", "--limit", "10")
    assert "acct\\u202eTXE\\u200f\\u2028\\u001b[2Kkey" in as_json.stdout  # JSON's own escapes
    refusals = [e["data"] for e in json.loads(as_json.stdout)["entries"] if e["event"] == "preview.refused"]
    assert [r["account"] for r in refusals] == [evil]  # the exact text survives
    pending = await operator_runs(trader, short_dir, "orders", "pending")
    assert pending.code == 0, pending.stderr
    for shown in (human, as_json, pending):
        assert not {"\u202e", "\u200f", "\u2028", "\x1b"} & set(shown.stdout + shown.stderr)
