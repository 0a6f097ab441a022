"""Attacks on the moment of sending, found by an adversarial review and kept as regression tests.

Each test names the attack in its comment. Counts are taken at the emulator (requests_to,
orders_at_emulator), not from the daemon's bookkeeping.
"""

from __future__ import annotations

import contextlib
from decimal import Decimal
from pathlib import Path

import pytest

from broker_client.errors import BrokerError, ErrorCode, InternalError, UpstreamError
from emulator import Emulator
from tests.daemon.test_orders_placement import TOKEN_REJECTED, move, preview
from tests.support import admin, requests_to
from tests.trading import Trader, spec, trading_daemon

pytestmark = pytest.mark.anyio


# --- E*TRADE failing the fresh quote: a clear error, the approval given back, nothing sent -------------
@pytest.mark.parametrize("status", [500, 400])
async def test_an_etrade_error_on_the_fresh_quote_is_not_an_internal_error(trader: Trader, status: int) -> None:
    emulator = trader.emulator
    pending_id, code = await preview(trader, "KO", 2)
    admin(emulator.base_url, "faults", {"match": "quote", "status": status, "code": 9999, "message": "no", "count": 50})
    with pytest.raises(BrokerError) as failed:
        await trader.model.place_confirmed(pending_id, code)
    assert not isinstance(failed.value, InternalError), f"INTERNAL: {failed.value!r}"
    assert isinstance(failed.value, UpstreamError) and "nothing was sent" in failed.value.message
    assert requests_to(emulator, "order_place") == 0


# --- A 5xx is never followed by a second send, even once reconciliation says "not placed" -------------
# The request may still surface at E*TRADE after the grace period: only a 401 gives an approval back.
async def test_a_place_answered_500_is_never_sent_again_with_the_same_approval(
    session_emu: Emulator, short_dir: Path
) -> None:
    async with trading_daemon(session_emu, short_dir, reconcile_grace_seconds=60.0) as trader:
        pending_id, code = await preview(trader, "KO", 2)
        admin(session_emu.base_url, "faults", {"match": "order_place", "status": 500, "count": 1})
        with pytest.raises(UpstreamError) as unknown:
            await trader.model.place_confirmed(pending_id, code)
        assert unknown.value.code is ErrorCode.ORDER_OUTCOME_UNKNOWN
        admin(session_emu.base_url, "clock", {"advance_seconds": 61})
        await trader.operator.journal(everything=True)  # the operator looks: reconciliation runs
        with contextlib.suppress(BrokerError):
            await trader.model.place_confirmed(pending_id, code)  # the model simply tries the code again
        assert requests_to(session_emu, "order_place") == 1, "one approval, two place requests after a 5xx"


# --- A 401 never feeds the circuit breaker, even when the order list cannot be read ---------------------
async def test_a_401_on_place_is_not_counted_by_the_breaker_even_when_the_list_is_unreadable(
    trader: Trader,
) -> None:
    emulator = trader.emulator
    pending_id, code = await preview(trader, "KO", 2)
    admin(emulator.base_url, "faults", {"match": "order_place", "count": 1, **TOKEN_REJECTED})
    admin(emulator.base_url, "faults", {"match": "orders_list", "status": 500, "count": 50})
    with pytest.raises(UpstreamError) as unknown:
        await trader.model.place_confirmed(pending_id, code)
    assert unknown.value.code is ErrorCode.ORDER_OUTCOME_UNKNOWN
    assert requests_to(emulator, "order_place") == 1
    assert (await trader.operator.trading_state()).breaker_recent == 0, "the 401 was counted by the breaker"
    assert "etradectl orders reject" in unknown.value.message


# --- Retrying a correct code while E*TRADE cannot quote does not halt everyone's trading ----------------
async def test_a_quote_e_trade_cannot_give_at_placement_does_not_feed_the_breaker(trader: Trader) -> None:
    emulator = trader.emulator
    pending_id, code = await preview(trader, "KO", 2)
    admin(emulator.base_url, "faults", {"match": "quote", "status": 400, "code": 1019, "message": "Invalid symbol"})
    for _ in range(5):
        with pytest.raises(BrokerError) as failed:
            await trader.model.place_confirmed(pending_id, code)
        assert "nothing was sent" in failed.value.message
    assert requests_to(emulator, "order_place") == 0
    assert not (await trader.operator.get_status()).trading_halted, "the breaker tripped on E*TRADE's quote failure"


# --- Combining overlays, invisible joiners and blank-looking letters are shown escaped ------------------
# U+0338 after etradectl's own "account=" would render "account≠"; U+034F and U+3164 show nothing.
@pytest.mark.parametrize(
    "char", ["\u034f", "\ufe0f", "\U000e0100", "\u0336", "\u0338", "\u20e0", "\u115f", "\u3164", "\uffa0", "\u2800"]
)
def test_printable_escapes_invisible_and_overlaying_characters(char: str) -> None:
    from cli.output import printable

    shown = printable(f"acct{char}key", cell=True)
    assert char not in shown, f"U+{ord(char):04X} reaches the terminal as it is"


async def test_etradectl_audit_shows_a_model_chosen_overlay_and_invisible_joiner_raw(
    trader: Trader, short_dir: Path
) -> None:
    from tests.daemon.test_orders_flow import operator_runs

    evil = "\u0338acct\u034fkey\u3164"  # U+0338 lands on etradectl's own "account=" -> "account≠"
    with pytest.raises(BrokerError):
        await trader.model.preview_order(spec(evil, "KO", 2))
    human = await operator_runs(trader, short_dir, "audit", "--limit", "10")
    assert human.code == 0, human.stderr
    assert not {"\u0338", "\u034f", "\u3164"} & set(human.stdout), "model-chosen invisible/overlay text printed raw"


# --- After the close: a MARKET or STOP order would wait for the open and fill at any price ------------
# The model previews a MARKET buy after the close (14 KO, est. $959 under a $1,000 cap); approved, it
# would rest until the open and fill at whatever KO gaps to. Unprotected, it is refused at the preview;
# protected, it is a LIMIT order that cannot fill above its cap.
EVENING = "2026-03-10T17:00:00-04:00"  # Tuesday, after the close


@pytest.mark.parametrize("price_type", ["MARKET", "STOP"])
async def test_a_market_or_stop_order_after_the_close_is_refused_at_the_preview(
    short_dir: Path, price_type: str
) -> None:
    from datetime import datetime

    from broker_client.errors import PolicyRefused
    from tests.trading import last_price, session_emulator

    with session_emulator(start=datetime.fromisoformat(EVENING)) as emulator:
        async with trading_daemon(emulator, short_dir, max_order_value=1000.0) as trader:
            fields = {}
            if price_type == "STOP":
                stop = (Decimal(str(last_price(emulator, "KO"))) * Decimal("1.01")).quantize(Decimal("0.01"))
                fields = {"price_type": "STOP", "stop_price": str(stop)}
            with pytest.raises(PolicyRefused) as refused:
                await trader.model.preview_order(spec(trader.account_key(), "KO", 14, **fields))
            assert refused.value.code is ErrorCode.POLICY_VIOLATION
            assert "outside the regular session" in refused.value.message and "LIMIT" in refused.value.message
            assert requests_to(emulator, "order_preview") == 0 and trader.orders_at_emulator() == []


async def test_a_protected_market_order_after_the_close_cannot_fill_above_its_cap(short_dir: Path) -> None:
    from datetime import datetime

    from tests.trading import session_emulator

    with session_emulator(start=datetime.fromisoformat(EVENING)) as emulator:
        async with trading_daemon(emulator, short_dir, max_order_value=1000.0, market_order_protection=True) as trader:
            pending_id, code = await preview(trader, "KO", 14)
            await trader.model.place_confirmed(pending_id, code)
            admin(emulator.base_url, "clock", {"set": "2026-03-11T09:25:00-04:00"})
            move(emulator, "KO", factor=1.9)  # an overnight gap (news, earnings)
            admin(emulator.base_url, "clock", {"set": "2026-03-11T09:45:00-04:00"})
            (order,) = trader.orders_at_emulator()
            assert order.spec.price_type == "LIMIT" and order.describe()["status"] == "OPEN"  # not filled at +90 %


# --- A halt that lands while the fresh quote is fetched stops the order --------------------------------
# The halt switch is checked before the claim; the re-check then waits for E*TRADE. An operator who
# halts in that window (a fast market is when the re-check is slow) must still stop the send.
async def test_a_halt_that_lands_while_the_fresh_quote_is_fetched_stops_the_order(trader: Trader) -> None:
    import asyncio

    from broker_client.errors import PolicyRefused

    emulator = trader.emulator
    pending_id, code = await preview(trader, "KO", 2)
    admin(emulator.base_url, "faults", {"match": "quote", "hold": True, "count": 1})
    placing = asyncio.create_task(trader.model.place_confirmed(pending_id, code))
    held = await asyncio.to_thread(admin, emulator.base_url, "holds?wait=30")  # the quote is at E*TRADE now
    assert len(held["holds"]) == 1
    await trader.operator.halt("the operator pulls the brake")
    admin(emulator.base_url, "holds/release", {})
    with pytest.raises(PolicyRefused) as refused:
        await placing
    assert refused.value.code is ErrorCode.TRADING_HALTED and "can be confirmed again" in refused.value.message
    assert requests_to(emulator, "order_place") == 0
    await trader.operator.resume()  # the approval was given back: it still places, once
    await trader.model.place_confirmed(pending_id, code)
    assert len(trader.orders_at_emulator()) == 1


# --- With protection on, a MARKET order works in the extended session: it is sent as the capped LIMIT ----
async def test_a_protected_market_order_in_the_extended_session_is_converted_not_refused(
    session_emu: Emulator, short_dir: Path
) -> None:
    async with trading_daemon(session_emu, short_dir, market_order_protection=True) as trader:
        response = await trader.model.preview_order(spec(trader.account_key(), "KO", 2, market_session="EXTENDED"))
        assert response.pending.order.price_type == "LIMIT"


# --- A storm of concurrent confirmations around a 401 still makes one order -----------------------------
# Six model tasks and the operator keep claiming the same pending order while its first place request
# is answered 401, renewed, reconciled and released: exactly two place requests (the 401'd one and the
# one after the release), one order, and none of the refusals fed the breaker.
async def test_concurrent_claims_around_a_401_still_make_one_order(trader: Trader) -> None:
    import asyncio

    emulator = trader.emulator
    pending_id, code = await preview(trader, "KO", 2)
    admin(emulator.base_url, "faults", {"match": "order_place", "count": 1, **TOKEN_REJECTED})
    placed: list[int] = []

    async def model() -> None:
        for _ in range(40):
            try:
                placed.append((await trader.model.place_confirmed(pending_id, code)).order_id)
                return
            except BrokerError:
                await asyncio.sleep(0)

    async def operator() -> None:
        for _ in range(40):
            listing = await trader.operator.list_pending()
            for item in listing.pending:
                if item.pending.pending_id == pending_id:
                    try:
                        placed.append(
                            (await trader.operator.confirm_pending(pending_id, item.pending.digest)).placed.order_id
                        )
                        return
                    except BrokerError:
                        pass
            await asyncio.sleep(0)

    await asyncio.gather(*(model() for _ in range(6)), operator())
    assert len(placed) == 1 and len(trader.orders_at_emulator()) == 1
    assert requests_to(emulator, "order_place") == 2
    assert (await trader.operator.trading_state()).breaker_recent == 0


# --- The operator can withdraw an approval held after an unsettled 401 ----------------------------------
# The order list could not be read after the 401, so the approval is held (it comes back if E*TRADE
# never acted). The human who no longer wants the order rejects it: then it never comes back.
async def test_the_operator_can_withdraw_an_approval_held_after_a_401(trader: Trader) -> None:
    emulator = trader.emulator
    pending_id, code = await preview(trader, "KO", 2)
    admin(emulator.base_url, "faults", {"match": "order_place", "count": 1, **TOKEN_REJECTED})
    admin(emulator.base_url, "faults", {"match": "orders_list", "status": 500})
    with pytest.raises(UpstreamError) as unknown:
        await trader.model.place_confirmed(pending_id, code)
    assert unknown.value.code is ErrorCode.ORDER_OUTCOME_UNKNOWN
    await trader.operator.reject_pending(pending_id)  # the human: "then I do not want it"
    admin(emulator.base_url, "faults", method="DELETE")  # E*TRADE's order list answers again
    await trader.operator.journal(everything=True)  # reconciliation: "not received"
    with contextlib.suppress(BrokerError):
        await trader.model.place_confirmed(pending_id, code)
    assert trader.orders_at_emulator() == [], "the approval the human tried to withdraw placed the order"
