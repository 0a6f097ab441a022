"""The order flow through the real gRPC daemon against the emulator: preview → code → place, and every
way it must refuse with nothing placed."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest

from broker_client.errors import ErrorCode, PolicyRefused, UpstreamError
from emulator.local_system import CtlResult, child_env, etradectl
from tests.support import requests_to
from tests.trading import Trader, last_price, session_emulator, spec, trading_daemon

pytestmark = pytest.mark.anyio


async def preview(trader: Trader, **fields: object) -> tuple[str, str]:
    """Preview (as the model) and read the code (as the human): (pending id, code)."""
    key = str(fields.pop("account", trader.account_key()))
    response = await trader.model.preview_order(spec(key, **fields))  # type: ignore[arg-type]
    pending_id = response.pending.pending_id
    return pending_id, await trader.code_of(pending_id)


@contextmanager
def journal_refuses_writes(trader: Trader) -> Iterator[None]:
    """The journal's database refuses writes, as a full or failing disk would, for the block."""
    database = trader.app.orders.journal._db
    database.execute("PRAGMA query_only = 1")
    try:
        yield
    finally:
        database.execute("PRAGMA query_only = 0")


async def operator_runs(trader: Trader, home: object, *args: str) -> CtlResult:
    """The operator runs etradectl (a real subprocess) against the trading daemon."""
    assert isinstance(home, Path)
    return await asyncio.to_thread(etradectl, child_env(home), trader.daemon.socket, *args)


async def test_a_preview_returns_no_code_and_the_code_places_exactly_one_order(trader: Trader) -> None:
    key = trader.account_key()
    response = await trader.model.preview_order(spec(key, "KO", 3, price_type="LIMIT", limit_price="90.00"))
    pending = response.pending
    assert pending.state == "PENDING" and pending.kind == "PLACE"
    assert pending.order.limit_price == "90" and pending.order.quantity == 3
    assert pending.preview.preview_ids and pending.preview.estimated_total_amount == "270"
    assert pending.preview.estimated_commission == "0"
    assert pending.digest and len(pending.digest) == 64
    assert "etradectl orders pending" in pending.confirm_instructions
    assert pending.attempts_left == 3

    code = await trader.code_of(pending.pending_id)
    assert len(code) == 9 and code[4] == "-"
    wire = response.SerializeToString()
    assert code.encode() not in wire and code.replace("-", "").encode() not in wire
    assert requests_to(trader.emulator, "order_place") == 0  # a preview places nothing

    placed = await trader.model.place_confirmed(pending.pending_id, code.lower().replace("-", " "))
    orders = trader.orders_at_emulator()
    assert [o.order_id for o in orders] == [placed.order_id]
    assert orders[0].spec.symbol == "KO" and int(orders[0].spec.quantity) == 3
    assert placed.messages[0].code == 1026
    entry = (await trader.operator.journal(everything=True)).entries[0]
    assert (entry.id, entry.state, entry.order_id) == (placed.journal_entry, "PLACED", placed.order_id)
    assert (await trader.operator.list_pending()).pending == []


async def test_the_code_is_written_nowhere(trader: Trader, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    pending_id, code = await preview(trader)
    await trader.model.place_confirmed(pending_id, code)
    audit = trader.app.orders.audit.path.read_text()
    raw = code.replace("-", "")
    for text in (audit, caplog.text):
        assert code not in text and raw not in text
    events = [e.event for e in (await trader.operator.list_audit(limit=100)).entries]
    assert {"order.previewed", "confirmation.accepted", "order.sending", "order.placed"} <= set(events)


async def test_wrong_codes_are_counted_and_the_third_voids_the_order(trader: Trader) -> None:
    pending_id, code = await preview(trader)
    for left in (2, 1):
        with pytest.raises(PolicyRefused) as wrong:
            await trader.model.place_confirmed(pending_id, "AAAA-AAAA")
        assert wrong.value.code is ErrorCode.CONFIRMATION_INVALID
        assert f"{left} attempt" in wrong.value.message
    with pytest.raises(PolicyRefused) as voided:
        await trader.model.place_confirmed(pending_id, "BBBB-BBBB")
    assert voided.value.code is ErrorCode.CONFIRMATION_VOIDED
    with pytest.raises(PolicyRefused) as after:
        await trader.model.place_confirmed(pending_id, code)  # even the right code is too late now
    assert after.value.code is ErrorCode.CONFIRMATION_VOIDED
    assert requests_to(trader.emulator, "order_place") == 0


async def test_an_expired_pending_order_cannot_be_placed(trader: Trader) -> None:
    pending_id, code = await preview(trader)
    trader.emulator.clock.advance(timedelta(seconds=301))  # the default lifetime is 300 s
    with pytest.raises(PolicyRefused) as caught:
        await trader.model.place_confirmed(pending_id, code)
    assert caught.value.code is ErrorCode.CONFIRMATION_EXPIRED
    assert requests_to(trader.emulator, "order_place") == 0


async def test_a_used_code_cannot_place_a_second_order(trader: Trader) -> None:
    pending_id, code = await preview(trader)
    await trader.model.place_confirmed(pending_id, code)
    with pytest.raises(PolicyRefused) as caught:
        await trader.model.place_confirmed(pending_id, code)
    assert caught.value.code is ErrorCode.CONFIRMATION_USED
    assert len(trader.orders_at_emulator()) == 1


async def test_a_code_of_another_pending_order_is_wrong(trader: Trader) -> None:
    first, first_code = await preview(trader, symbol="KO")
    second, _ = await preview(trader, symbol="PEP")
    with pytest.raises(PolicyRefused) as caught:
        await trader.model.place_confirmed(second, first_code)
    assert caught.value.code is ErrorCode.CONFIRMATION_INVALID
    assert requests_to(trader.emulator, "order_place") == 0
    placed = await trader.model.place_confirmed(first, first_code)
    assert [o.order_id for o in trader.orders_at_emulator()] == [placed.order_id]


async def test_twenty_concurrent_confirmations_place_exactly_one_order(trader: Trader) -> None:
    pending_id, code = await preview(trader)
    results = await asyncio.gather(
        *(trader.model.place_confirmed(pending_id, code) for _ in range(20)), return_exceptions=True
    )
    placed = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, PolicyRefused)]
    assert len(placed) == 1 and len(refused) == 19
    assert {r.code for r in refused} == {ErrorCode.CONFIRMATION_USED}
    assert requests_to(trader.emulator, "order_place") == 1
    assert [o.order_id for o in trader.orders_at_emulator()] == [placed[0].order_id]
    assert (await trader.operator.trading_state()).halted is False  # reuse is not suspicious


async def test_read_only_refuses_and_names_the_setting(session_emu: object, short_dir: object) -> None:
    from emulator import Emulator

    assert isinstance(session_emu, Emulator) and isinstance(short_dir, Path)
    async with trading_daemon(session_emu, short_dir, read_only=True) as trader:
        key = trader.account_key()
        for attempt in (
            trader.model.preview_order(spec(key)),
            trader.model.place_confirmed("pnd_0000000000", "AAAA-AAAA"),
            trader.model.request_cancel(key, 1),
            trader.model.cancel_confirmed("pnd_0000000000", "AAAA-AAAA"),
        ):
            with pytest.raises(PolicyRefused) as caught:
                await attempt
            assert caught.value.code is ErrorCode.READ_ONLY
            assert "ETRADE_READ_ONLY" in caught.value.message
        assert requests_to(session_emu, "order_preview") == 0
        assert (await trader.operator.list_orders(key)).orders == []  # reading still works


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"quantity": 1000, "symbol": "MSFT"}, ErrorCode.ORDER_VALUE_LIMIT),  # ~480 k > 10 k
        ({"price_type": "LIMIT", "limit_price": "1.00"}, ErrorCode.PRICE_OUT_OF_BAND),
        ({"price_type": "LIMIT", "limit_price": "500.00"}, ErrorCode.PRICE_OUT_OF_BAND),
        ({"price_type": "STOP", "stop_price": "10.00"}, ErrorCode.PRICE_OUT_OF_BAND),  # buy stop below the market
        ({"account": "A" * 22}, ErrorCode.UNKNOWN_ACCOUNT),
        ({"account": "not a key!"}, ErrorCode.UNKNOWN_ACCOUNT),
        ({"symbol": "ZZZZQ"}, ErrorCode.INVALID_SYMBOL),
        ({"symbol": "$$$"}, ErrorCode.INVALID_SYMBOL),
        ({"quantity": 0}, ErrorCode.INVALID_ARGUMENT),
        ({"quantity": 20_000}, ErrorCode.INVALID_ARGUMENT),
        ({"price_type": "LIMIT"}, ErrorCode.INVALID_ARGUMENT),
        ({"price_type": "LIMIT", "limit_price": "70.123"}, ErrorCode.INVALID_ARGUMENT),
        ({"price_type": "LIMIT", "limit_price": "-5"}, ErrorCode.INVALID_ARGUMENT),
        ({"action": "HODL"}, ErrorCode.INVALID_ARGUMENT),
        ({"order_term": "FILL_OR_KILL"}, ErrorCode.INVALID_ARGUMENT),  # market FOK
    ],
)
async def test_refusals_before_anything_is_sent(trader: Trader, fields: dict[str, object], code: ErrorCode) -> None:
    with pytest.raises(Exception) as caught:
        await preview(trader, **fields)
    assert getattr(caught.value, "code", None) is code, caught.value
    assert requests_to(trader.emulator, "order_preview") == 0
    assert requests_to(trader.emulator, "order_place") == 0


async def test_insufficient_funds_is_refused_by_our_check_and_by_e_trade(trader: Trader) -> None:
    cash_key = trader.account_key("CASH")
    account = trader.emulator.book.account(cash_key)
    assert account is not None
    price = last_price(trader.emulator, "KO")
    too_many = int(account.cash / price) + 5
    with pytest.raises(PolicyRefused) as ours:
        await preview(trader, account=cash_key, quantity=too_many, price_type="LIMIT", limit_price=f"{price:.2f}")
    assert ours.value.code is ErrorCode.INSUFFICIENT_BUYING_POWER
    assert requests_to(trader.emulator, "order_preview") == 0

    # An open order holds cash that the balance does not subtract: E*TRADE refuses with 1021.
    limit = f"{price * 0.7:.2f}"
    half = int(account.cash * 0.6 / (price * 0.7))
    pending_id, code = await preview(trader, account=cash_key, quantity=half, price_type="LIMIT", limit_price=limit)
    await trader.model.place_confirmed(pending_id, code)
    with pytest.raises(UpstreamError) as theirs:
        await preview(trader, account=cash_key, quantity=half, price_type="LIMIT", limit_price=limit)
    assert theirs.value.code is ErrorCode.UPSTREAM_REJECTED
    assert "1021" in theirs.value.message and "insufficient funds" in theirs.value.message
    assert len(trader.orders_at_emulator()) == 1


async def test_the_operator_confirms_what_it_was_shown(trader: Trader) -> None:
    key = trader.account_key()
    pending = (await trader.model.preview_order(spec(key))).pending
    with pytest.raises(PolicyRefused) as stale:
        await trader.operator.confirm_pending(pending.pending_id, "0" * 64)
    assert stale.value.code is ErrorCode.CONFIRMATION_INVALID
    confirmed = await trader.operator.confirm_pending(pending.pending_id, pending.digest)
    assert confirmed.placed.order_id > 0
    assert [o.order_id for o in trader.orders_at_emulator()] == [confirmed.placed.order_id]


async def test_the_operator_can_reject(trader: Trader) -> None:
    pending_id, code = await preview(trader)
    rejected = await trader.operator.reject_pending(pending_id)
    assert rejected.pending.state == "REJECTED"
    with pytest.raises(PolicyRefused) as caught:
        await trader.model.place_confirmed(pending_id, code)
    assert caught.value.code is ErrorCode.CONFIRMATION_VOIDED
    assert requests_to(trader.emulator, "order_place") == 0


async def test_the_proxy_may_not_use_operator_calls(trader: Trader) -> None:
    for call in (trader.model.list_pending(), trader.model.halt("x"), trader.model.journal()):
        with pytest.raises(PolicyRefused) as caught:
            await call
        assert caught.value.code is ErrorCode.OPERATOR_ONLY


async def test_cancel_needs_its_own_confirmation(trader: Trader) -> None:
    key = trader.account_key()
    far = f"{last_price(trader.emulator, 'KO') * 0.6:.2f}"
    pending_id, code = await preview(trader, price_type="LIMIT", limit_price=far)
    order_id = (await trader.model.place_confirmed(pending_id, code)).order_id

    cancel = (await trader.model.request_cancel(key, order_id)).pending
    assert cancel.kind == "CANCEL" and cancel.cancel_target.order_id == order_id
    with pytest.raises(PolicyRefused):
        await trader.model.cancel_confirmed(cancel.pending_id, code)  # the order's code is not the cancel's
    with pytest.raises(PolicyRefused) as wrong_kind:
        await trader.model.place_confirmed(cancel.pending_id, await trader.code_of(cancel.pending_id))
    assert wrong_kind.value.code is ErrorCode.CONFIRMATION_INVALID
    assert requests_to(trader.emulator, "order_cancel") == 0

    done = await trader.model.cancel_confirmed(cancel.pending_id, await trader.code_of(cancel.pending_id))
    assert done.order_id == order_id and done.messages[0].code == 4186
    assert (await trader.model.get_order(key, order_id)).order.status == "CANCEL_REQUESTED"
    trader.emulator.clock.advance(timedelta(seconds=1))
    assert (await trader.model.get_order(key, order_id)).order.status == "CANCELLED"
    with pytest.raises(Exception) as closed:
        await trader.model.request_cancel(key, order_id)
    assert getattr(closed.value, "code", None) is ErrorCode.ORDER_NOT_CANCELLABLE


async def test_orders_are_listed_and_shown(trader: Trader) -> None:
    key = trader.account_key()
    assert (await trader.model.list_orders(key)).orders == []
    pending_id, code = await preview(trader, quantity=4)
    order_id = (await trader.model.place_confirmed(pending_id, code)).order_id
    trader.emulator.clock.advance(timedelta(seconds=10))
    [listed] = (await trader.model.list_orders(key)).orders
    assert listed.order_id == order_id and listed.status == "EXECUTED"
    assert listed.filled_quantity == "4" and listed.average_execution_price
    assert (await trader.model.list_orders(key, status="OPEN")).orders == []
    shown = (await trader.model.get_order(key, order_id)).order
    assert shown.symbol == "KO" and shown.executed_at_unix_ms > shown.placed_at_unix_ms
    with pytest.raises(Exception) as missing:
        await trader.model.get_order(key, 1)
    assert getattr(missing.value, "code", None) is ErrorCode.ORDER_NOT_FOUND


async def test_a_client_deadline_does_not_cut_a_placement_in_half(trader: Trader) -> None:
    pending_id, code = await preview(trader)
    trader.emulator.faults.add({"match": "order_place", "hold": True, "count": 1})
    with pytest.raises(Exception) as timed_out:
        await trader.model.place_confirmed(pending_id, code, timeout=0.5)
    # Out of time on a call that sends an order means "unknown", never "try again".
    assert getattr(timed_out.value, "code", None) is ErrorCode.ORDER_OUTCOME_UNKNOWN
    assert "NOT place the order again" in getattr(timed_out.value, "hint", "")
    assert await asyncio.to_thread(trader.emulator.wait_for_hold, 10)
    trader.emulator.release_holds()
    await trader.app.orders.drain()
    [entry] = (await trader.operator.journal(everything=True)).entries
    assert entry.state == "PLACED"
    assert [o.order_id for o in trader.orders_at_emulator()] == [entry.order_id]


async def test_a_lost_answer_is_reconciled_to_the_one_order_never_retried(short_dir: object) -> None:
    assert isinstance(short_dir, Path)
    with session_emulator() as emu:
        async with trading_daemon(emu, short_dir, upstream_timeout=0.5) as trader:
            pending_id, code = await preview(trader)
            emu.faults.add({"match": "order_place", "hold": True, "count": 1})
            with pytest.raises(UpstreamError) as unknown:
                await trader.model.place_confirmed(pending_id, code)
            assert unknown.value.code is ErrorCode.ORDER_OUTCOME_UNKNOWN
            assert "NOT place the order again" in unknown.value.hint
            emu.release_holds()
            report = await trader.operator.journal()
            [entry] = report.entries
            assert entry.state == "PLACED" and entry.reconciled and entry.needs_attention
            assert "WAS placed" in entry.detail
            assert requests_to(emu, "order_place") == 1
            assert [o.order_id for o in trader.orders_at_emulator()] == [entry.order_id]
            await trader.operator.acknowledge_journal_entry(entry.id)
            assert (await trader.operator.journal()).entries == []


async def test_a_request_that_never_arrived_is_reported_not_placed(short_dir: object) -> None:
    assert isinstance(short_dir, Path)
    with session_emulator() as emu:
        async with trading_daemon(emu, short_dir, reconcile_grace_seconds=60) as trader:
            pending_id, code = await preview(trader)
            emu.faults.add({"match": "order_place", "drop": True, "count": 1})  # lost before the broker saw it
            with pytest.raises(UpstreamError) as unknown:
                await trader.model.place_confirmed(pending_id, code)
            assert unknown.value.code is ErrorCode.ORDER_OUTCOME_UNKNOWN
            [entry] = (await trader.operator.journal()).entries
            assert entry.state == "UNKNOWN" and "never re-sends" in entry.detail
            with pytest.raises(PolicyRefused) as blocked:  # nothing more for KO until it is settled
                await preview(trader)
            assert blocked.value.code is ErrorCode.OUTCOME_UNRESOLVED
            emu.clock.advance(timedelta(seconds=61))
            [entry] = (await trader.operator.journal()).entries
            assert entry.state == "NOT_PLACED" and entry.reconciled
            assert requests_to(emu, "order_place") == 1  # never re-sent
            assert trader.orders_at_emulator() == []


async def test_an_order_approved_before_another_became_unknown_waits_until_that_is_settled(short_dir: object) -> None:
    assert isinstance(short_dir, Path)
    with session_emulator() as emu:
        async with trading_daemon(emu, short_dir, reconcile_grace_seconds=600) as trader:
            first, first_code = await preview(trader)
            second, second_code = await preview(trader)  # previewed while nothing was open
            emu.faults.add({"match": "order_place", "drop": True, "count": 1})
            with pytest.raises(UpstreamError) as unknown:
                await trader.model.place_confirmed(first, first_code)
            assert unknown.value.code is ErrorCode.ORDER_OUTCOME_UNKNOWN
            sent = requests_to(emu, "order_place")
            # The human, believing the first failed, approves the second: refused, nothing sent.
            with pytest.raises(PolicyRefused) as blocked:
                await trader.model.place_confirmed(second, second_code)
            assert blocked.value.code is ErrorCode.OUTCOME_UNRESOLVED
            assert "has an unknown outcome" in blocked.value.message
            assert requests_to(emu, "order_place") == sent
            # Once the operator has settled the first, the second's code (not used up) places it.
            [entry] = (await trader.operator.journal()).entries
            await trader.operator.resolve_journal_entry(entry.id, order_id=0, not_placed=True)
            placed = await trader.model.place_confirmed(second, second_code)
            assert [o.order_id for o in trader.orders_at_emulator()] == [placed.order_id]


async def test_a_second_order_for_the_symbol_is_refused_while_the_first_is_being_sent(trader: Trader) -> None:
    first, first_code = await preview(trader)
    second, second_code = await preview(trader)
    trader.emulator.faults.add({"match": "order_place", "hold": True, "count": 1})
    placing = asyncio.ensure_future(trader.model.place_confirmed(first, first_code))
    assert await asyncio.to_thread(trader.emulator.wait_for_hold, 10)
    with pytest.raises(PolicyRefused) as blocked:
        await trader.model.place_confirmed(second, second_code)
    assert blocked.value.code is ErrorCode.OUTCOME_UNRESOLVED
    assert trader.app.orders.breaker.recent() == 0  # waiting is not misbehaviour
    trader.emulator.release_holds()
    first_order = (await placing).order_id
    second_order = (await trader.model.place_confirmed(second, second_code)).order_id
    assert sorted(o.order_id for o in trader.orders_at_emulator()) == sorted([first_order, second_order])


async def test_a_placed_order_the_journal_could_not_record_is_reported_placed_and_reconciled(trader: Trader) -> None:
    pending_id, code = await preview(trader)
    trader.emulator.faults.add({"match": "order_place", "hold": True, "count": 1})
    placing = asyncio.ensure_future(trader.model.place_confirmed(pending_id, code))
    assert await asyncio.to_thread(trader.emulator.wait_for_hold, 10)
    with journal_refuses_writes(trader):
        trader.emulator.release_holds()
        placed = await placing
        # The caller hears the truth: the order is placed (not "internal error").
        [at_emulator] = trader.orders_at_emulator()
        assert placed.order_id == at_emulator.order_id
        with pytest.raises(PolicyRefused) as blocked:  # the unrecorded entry keeps KO closed
            await preview(trader)
        assert blocked.value.code is ErrorCode.OUTCOME_UNRESOLVED
    report = await trader.operator.journal()  # reconciles first
    [entry] = report.entries
    assert entry.state == "PLACED" and entry.order_id == at_emulator.order_id and entry.reconciled
    assert "the journal could not record it at the time" in entry.detail  # the id it was told, not a guess
    await trader.operator.acknowledge_journal_entry(entry.id)
    await preview(trader)  # KO is open again


async def test_an_accepted_cancel_the_journal_could_not_record_is_reported_accepted(trader: Trader) -> None:
    key = trader.account_key()
    far = f"{last_price(trader.emulator, 'KO') * 0.6:.2f}"
    pending_id, code = await preview(trader, price_type="LIMIT", limit_price=far)
    order_id = (await trader.model.place_confirmed(pending_id, code)).order_id
    cancel = (await trader.model.request_cancel(key, order_id)).pending
    cancel_code = await trader.code_of(cancel.pending_id)
    trader.emulator.faults.add({"match": "order_cancel", "hold": True, "count": 1})
    cancelling = asyncio.ensure_future(trader.model.cancel_confirmed(cancel.pending_id, cancel_code))
    assert await asyncio.to_thread(trader.emulator.wait_for_hold, 10)
    with journal_refuses_writes(trader):
        trader.emulator.release_holds()
        done = await cancelling  # the truth: E*TRADE accepted it (was INTERNAL)
        assert done.order_id == order_id
    entries = (await trader.operator.journal(everything=True)).entries
    cancel_entry = next(e for e in entries if e.kind == "CANCEL")
    assert cancel_entry.state == "CANCEL_ACCEPTED" and cancel_entry.reconciled


async def test_logins_are_audited(trader: Trader) -> None:
    events = [e.event for e in (await trader.operator.list_audit()).entries]
    assert "session.login" in events
    await trader.operator.logout()
    assert (await trader.operator.list_audit(limit=1)).entries[0].event == "session.logout"


async def test_the_human_gets_the_code_in_a_desktop_notification(session_emu: object, short_dir: object) -> None:
    from emulator import Emulator

    assert isinstance(session_emu, Emulator) and isinstance(short_dir, Path)
    shown: list[tuple[str, str]] = []

    def desktop(title: str, body: str) -> bool:
        shown.append((title, body))
        return True

    async with trading_daemon(session_emu, short_dir, notify_codes=True) as trader:
        trader.app.orders.notifier = desktop
        pending_id, code = await preview(trader)
        await trader.app.orders.drain()
    [(title, body)] = shown
    assert "approve" in title and code in body and pending_id in body and "BUY 2 KO MARKET" in body


async def test_by_default_the_notification_names_the_order_but_not_its_code(
    session_emu: object, short_dir: object
) -> None:
    from emulator import Emulator

    assert isinstance(session_emu, Emulator) and isinstance(short_dir, Path)
    shown: list[tuple[str, str]] = []

    def desktop(title: str, body: str) -> bool:
        shown.append((title, body))
        return True

    async with trading_daemon(session_emu, short_dir) as trader:  # notify_codes: the default
        assert trader.app.settings.notify_codes is False
        trader.app.orders.notifier = desktop
        pending_id, code = await preview(trader)
        await trader.app.orders.drain()
    [(title, body)] = shown
    assert "approve" in title and pending_id in body and "BUY 2 KO MARKET" in body
    assert code not in body and code.replace("-", "") not in body


async def test_order_activity_is_published_for_live_updates(trader: Trader) -> None:
    from daemon.events import EventKind

    kinds = [EventKind.PENDING_ORDERS_CHANGED, EventKind.ORDER_STATUS_CHANGED, EventKind.TRADING_STATE_CHANGED]
    subscription = trader.app.events.subscribe(kinds)
    key = trader.account_key()
    pending_id, code = await preview(trader)
    placed = await trader.model.place_confirmed(pending_id, code)
    guessed, _ = await preview(trader, symbol="PEP")
    for wrong in ("AAAA-AAAA", "BBBB-BBBB", "CCCC-CCCC"):
        with pytest.raises(PolicyRefused):
            await trader.model.place_confirmed(guessed, wrong)
    await trader.operator.halt("lunch")
    await trader.operator.resume()
    subscription.close()
    seen = [(e.kind, e.subject, dict(e.attributes)) async for e in subscription][1:]  # after STREAM_STARTED
    assert seen == [
        (EventKind.PENDING_ORDERS_CHANGED, pending_id, {"change": "created"}),
        (EventKind.PENDING_ORDERS_CHANGED, pending_id, {"change": "confirmed"}),
        (
            EventKind.ORDER_STATUS_CHANGED,
            key,
            {
                "order_id": str(placed.order_id),
                "status": "OPEN",
                "previous_status": "",
                "symbol": "KO",
                "side": "BUY",
                "quantity": "2",
                "filled_quantity": "0",
                "placed_by": "this_system",
            },
        ),
        (EventKind.PENDING_ORDERS_CHANGED, guessed, {"change": "created"}),
        (EventKind.PENDING_ORDERS_CHANGED, guessed, {"change": "voided"}),
        (EventKind.TRADING_STATE_CHANGED, "disabled", {"reason": "lunch"}),
        (EventKind.TRADING_STATE_CHANGED, "enabled", {"reason": "resumed by etradectl/test"}),
    ]
    assert all(code not in str(item) for item in seen)


async def test_a_fill_the_daemon_hears_of_is_published_and_refreshes_the_balance(trader: Trader) -> None:
    from daemon.events import EventKind

    key = trader.account_key()
    pending_id, code = await preview(trader, quantity=5)
    order_id = (await trader.model.place_confirmed(pending_id, code)).order_id
    cash_before = (await trader.model.get_balance(key)).balance.cash_balance
    subscription = trader.app.events.subscribe([EventKind.ORDER_STATUS_CHANGED])
    trader.emulator.clock.advance(timedelta(seconds=2))  # fills at the next price; balances stay cached 10 s
    [order] = (await trader.model.list_orders(key)).orders
    assert order.status == "EXECUTED"
    subscription.close()
    seen = [(e.subject, dict(e.attributes)) async for e in subscription][1:]
    [(subject, attributes)] = seen
    assert subject == key
    assert attributes == {
        "order_id": str(order_id),
        "status": "EXECUTED",
        "previous_status": "OPEN",
        "symbol": "KO",
        "side": "BUY",
        "quantity": "5",
        "filled_quantity": "5",
        "average_price": order.average_execution_price,
        "placed_by": "this_system",
    }
    cash_after = (await trader.model.get_balance(key)).balance.cash_balance  # not the cached balance
    assert cash_after < cash_before


async def test_model_text_in_the_audit_log_cannot_drive_the_operators_terminal(
    trader: Trader, short_dir: object
) -> None:
    evil = "\x1b[1A\x1b[2K\x1b]0;pwned\x07"  # cursor up, erase the line, retitle the window
    with pytest.raises(Exception) as refused:
        await trader.model.preview_order(spec(evil, "KO", 2))
    assert getattr(refused.value, "code", None) is ErrorCode.UNKNOWN_ACCOUNT
    shown = await operator_runs(trader, short_dir, "audit", "--limit", "5")
    assert shown.code == 0, shown.stderr
    assert "\\x1b[1A\\x1b[2K\\x1b]0;pwned\\x07" in shown.stdout  # visible, inert
    assert "\x1b" not in shown.stdout and "\x07" not in shown.stdout


async def test_a_preview_the_audit_log_could_not_record_is_discarded(trader: Trader) -> None:
    log_path = trader.app.orders.audit.path
    kept = log_path.with_name("kept.jsonl")
    log_path.rename(kept)
    log_path.mkdir()  # the audit log can no longer be written, even by root
    try:
        with pytest.raises(Exception) as failed:
            await preview(trader)
        assert getattr(failed.value, "code", None) is ErrorCode.INTERNAL
        assert "discarded and nothing was sent" in str(failed.value)
    finally:
        log_path.rmdir()
        kept.rename(log_path)
    assert (await trader.operator.list_pending()).pending == []  # nothing left to confirm
    await preview(trader)  # and the next preview works again


async def test_etradectl_counts_the_time_left_on_the_daemons_clock(trader: Trader, short_dir: object) -> None:
    pending_id, _ = await preview(trader)  # the emulator's clock is nowhere near this machine's
    listing = await operator_runs(trader, short_dir, "orders", "pending")
    assert listing.code == 0, listing.stderr
    row = next(line for line in listing.stdout.splitlines() if line.startswith(pending_id))
    assert row.endswith(("in 4 min 59 s", "in 5 min 00 s")), row
