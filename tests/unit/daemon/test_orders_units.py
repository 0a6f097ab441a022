"""The order domain without gRPC: validation, pending codes, journal, audit chain, breaker, reconciliation."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from broker_client.errors import ErrorCode, InvalidRequest, NotFound, PolicyRefused
from daemon.audit import AuditLog
from daemon.models import Quote
from daemon.orders.breaker import CircuitBreaker, Problem, TradingSwitch
from daemon.orders.desk import placement
from daemon.orders.desk.reconcile import settle_cancel, settle_place
from daemon.orders.journal import EntryKind, EntryState, Journal, NewEntry, StateDirInUse
from daemon.orders.model import (
    Action,
    EtradePreview,
    MarketSession,
    Order,
    OrderRequest,
    PriceType,
    Severity,
    Term,
    decimal_text,
)
from daemon.orders.pending import (
    KEEP_FINISHED_MAX,
    PendingKind,
    PendingState,
    PendingStore,
    digest_of,
    normalize_code,
)
from daemon.orders.validation import OrderInput, OrderPolicy, PolicyLimits, parse_order, parse_price

KEY = "nOTJWWvt5R0WzLQnOZdNOp"


class FakeClock:
    """A settable clock for domain tests (the daemon's Clock protocol)."""

    def __init__(self, now: float = 1_773_154_800.0) -> None:
        self.value = now

    def now(self) -> float:
        return self.value


def order_input(**fields: object) -> OrderInput:
    values: dict[str, object] = {
        "account_id_key": KEY,
        "symbol": "ko",
        "action": "buy",
        "quantity": 5,
        "price_type": "LIMIT",
        "limit_price": "61.50",
    }
    values.update(fields)
    return OrderInput(**values)  # type: ignore[arg-type]


# -- validation ---------------------------------------------------------------------------------


def test_parse_order_normalizes_and_keeps_exact_decimals() -> None:
    order = parse_order(order_input(), max_quantity=100)
    assert (order.symbol, order.action, order.price_type) == ("KO", Action.BUY, PriceType.LIMIT)
    assert order.limit_price == Decimal("61.50") and decimal_text(order.limit_price) == "61.5"
    assert order.term.value == "GOOD_FOR_DAY" and order.session.value == "REGULAR"
    assert order.describe() == "BUY 5 KO LIMIT at 61.5 GOOD_FOR_DAY"


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"quantity": 0}, "at least 1"),
        ({"quantity": 101}, "ETRADE_MAX_ORDER_QUANTITY"),
        ({"limit_price": ""}, "needs a limit_price"),
        ({"limit_price": "61.505"}, "too many decimals"),
        ({"limit_price": "1e3"}, ""),  # 1000 is fine as a number; the band check judges it later
        ({"limit_price": "abc"}, "not a number"),
        ({"limit_price": "NaN"}, "positive price"),
        ({"limit_price": "0"}, "positive price"),
        ({"price_type": "MARKET"}, "takes no limit_price"),
        ({"price_type": "STOP", "limit_price": "", "stop_price": ""}, "needs a stop_price"),
        ({"price_type": "STOP_LIMIT", "stop_price": "62", "limit_price": "61"}, "at or above its stop_price"),
        ({"order_term": "IMMEDIATE_OR_CANCEL", "price_type": "MARKET", "limit_price": ""}, "LIMIT orders only"),
        ({"market_session": "EXTENDED", "order_term": "GOOD_UNTIL_CANCEL"}, "extended-hours"),
        ({"action": "EXCHANGE"}, "order_action"),
    ],
)
def test_parse_order_refuses_with_a_reason(fields: dict[str, object], fragment: str) -> None:
    if not fragment:
        assert parse_order(order_input(**fields), max_quantity=100).limit_price == Decimal(1000)
        return
    with pytest.raises(InvalidRequest) as caught:
        parse_order(order_input(**fields), max_quantity=100)
    assert fragment in caught.value.message


def test_sub_dollar_prices_may_have_four_decimals() -> None:
    assert parse_price("0.1234", "limit_price") == Decimal("0.1234")
    with pytest.raises(InvalidRequest):
        parse_price("0.12345", "limit_price")


def policy(**overrides: object) -> OrderPolicy:
    values: dict[str, object] = {
        "read_only": False,
        "max_order_value": Decimal(10_000),
        "price_band_percent": Decimal(50),
        "allowed_accounts": frozenset(),
        "allowed_symbols": frozenset(),
        "blocked_symbols": frozenset(),
    }
    values.update(overrides)
    return OrderPolicy(PolicyLimits(**values))  # type: ignore[arg-type]


def test_the_price_band_and_the_value_cap() -> None:
    quote = Quote(symbol="KO", last_trade=60.0, bid=59.98, ask=60.02)
    p = policy()
    reference, value = p.check_against_quote(parse_order(order_input(limit_price="89.99"), max_quantity=100), quote)
    assert reference == Decimal("60.02") and value == Decimal("449.95")
    with pytest.raises(PolicyRefused) as high:
        p.check_against_quote(parse_order(order_input(limit_price="90.04"), max_quantity=100), quote)
    assert high.value.code is ErrorCode.PRICE_OUT_OF_BAND
    with pytest.raises(PolicyRefused) as big:
        p.check_against_quote(parse_order(order_input(quantity=200, limit_price="60"), max_quantity=1000), quote)
    assert big.value.code is ErrorCode.ORDER_VALUE_LIMIT and "12000.00" in big.value.message
    with pytest.raises(PolicyRefused) as no_price:
        p.check_against_quote(parse_order(order_input(), max_quantity=100), Quote(symbol="KO"))
    assert no_price.value.code is ErrorCode.PRICE_OUT_OF_BAND


def test_read_only_names_its_setting() -> None:
    with pytest.raises(PolicyRefused) as caught:
        policy(read_only=True).require_trading_enabled()
    assert caught.value.code is ErrorCode.READ_ONLY and "ETRADE_READ_ONLY" in caught.value.message


# -- pending confirmations ----------------------------------------------------------------------


def preview() -> EtradePreview:
    return EtradePreview((123456789012,), Decimal("307.5"), Decimal(0), Decimal("307.5"), 1)


def store(clock: FakeClock) -> PendingStore:
    return PendingStore(clock, ttl_seconds=300, max_attempts=3, max_waiting=20)


def test_codes_are_random_bound_and_single_use() -> None:
    clock = FakeClock()
    pending_store = store(clock)
    order = parse_order(order_input(), max_quantity=100)
    first = pending_store.create(PendingKind.PLACE, KEY, client_order_id="c1", order=order, preview=preview())
    second = pending_store.create(PendingKind.PLACE, KEY, client_order_id="c2", order=order, preview=preview())
    assert first.code != second.code and first.digest != second.digest
    assert len(first.code) == 8 and first.code.isalnum()
    assert first.code not in repr(first)
    assert first.digest == digest_of(first.bound_fields())
    with pytest.raises(PolicyRefused):
        pending_store.claim_with_code(second.id, first.code, PendingKind.PLACE)
    claimed = pending_store.claim_with_code(first.id, f" {first.code[:4].lower()}-{first.code[4:]} ", PendingKind.PLACE)
    assert claimed.state is PendingState.CONFIRMED and claimed.code == ""
    with pytest.raises(PolicyRefused) as again:
        pending_store.claim_with_code(first.id, first.code, PendingKind.PLACE)
    assert again.value.code is ErrorCode.CONFIRMATION_USED


def test_a_changed_order_no_longer_matches_its_code() -> None:
    pending_store = store(FakeClock())
    order = parse_order(order_input(), max_quantity=100)
    # The stored order changes after the preview (a bug, or tampering): the right code voids it.
    changed = pending_store.create(PendingKind.PLACE, KEY, client_order_id="c1", order=order, preview=preview())
    changed.order = replace(order, quantity=500)
    assert pending_store_error(pending_store, changed.id, changed.code) is ErrorCode.CONFIRMATION_VOIDED
    # The digest is recomputed for the changed order: the code was made for the old one and fails.
    rebound = pending_store.create(PendingKind.PLACE, KEY, client_order_id="c2", order=order, preview=preview())
    code = rebound.code
    rebound.order = replace(order, quantity=500)
    rebound.digest = digest_of(rebound.bound_fields())
    assert pending_store_error(pending_store, rebound.id, code) is ErrorCode.CONFIRMATION_INVALID


def test_expiry_and_voiding() -> None:
    clock = FakeClock()
    pending_store = store(clock)
    order = parse_order(order_input(), max_quantity=100)
    late = pending_store.create(PendingKind.PLACE, KEY, order=order, preview=preview())
    clock.value += 300
    with pytest.raises(PolicyRefused) as expired:
        pending_store.claim_with_code(late.id, late.code, PendingKind.PLACE)
    assert expired.value.code is ErrorCode.CONFIRMATION_EXPIRED
    assert pending_store.active() == []
    guessed = pending_store.create(PendingKind.PLACE, KEY, order=order, preview=preview())
    codes = [pending_store_error(pending_store, guessed.id, "ZZZZZZZZ") for _ in range(3)]
    assert codes == [ErrorCode.CONFIRMATION_INVALID, ErrorCode.CONFIRMATION_INVALID, ErrorCode.CONFIRMATION_VOIDED]
    with pytest.raises(NotFound):
        pending_store.get("pnd_nope")
    clock.value += 3601
    pending_store.sweep()
    with pytest.raises(NotFound):
        pending_store.get(guessed.id)  # long finished: forgotten


def test_finished_pending_orders_are_kept_in_bounded_number_but_a_held_approval_is_never_dropped() -> None:
    clock = FakeClock()
    pending_store = store(clock)
    order = parse_order(order_input(), max_quantity=100)
    held = pending_store.create(PendingKind.PLACE, KEY, order=order, preview=preview())
    pending_store.claim_with_code(held.id, held.code, PendingKind.PLACE)  # its send's outcome is not known yet
    finished = []
    for _ in range(KEEP_FINISHED_MAX + 50):
        clock.value += 0.1  # well within the hour they are kept for
        finished.append(pending_store.reject(pending_store.create(PendingKind.PLACE, KEY, order=order).id).id)
    pending_store.sweep()
    for forgotten in finished[:50]:  # the oldest go first
        with pytest.raises(NotFound):
            pending_store.get(forgotten)
    assert all(pending_store.get(kept).state is PendingState.REJECTED for kept in finished[50:])
    assert pending_store.release(held.id) is not None  # the approval can still be given back


def test_a_slot_is_refused_at_the_cap_and_given_back_when_the_block_ends() -> None:
    clock = FakeClock()
    pending_store = PendingStore(clock, ttl_seconds=300, max_attempts=3, max_waiting=2)
    order = parse_order(order_input(), max_quantity=100)
    with pending_store.slot():
        pending_store.create(PendingKind.PLACE, KEY, order=order)
    with pending_store.slot():  # taken, E*TRADE being asked: counts before it exists
        with pytest.raises(PolicyRefused) as refused, pending_store.slot():
            pass
        assert refused.value.code is ErrorCode.TOO_MANY_PENDING
        assert "1 order already waits" in refused.value.message and "1 more being previewed" in refused.value.message
        pending_store.create(PendingKind.CANCEL, KEY)  # cancels take no slot
    with pending_store.slot():  # the failed preview gave its slot back
        pass
    clock.value += 300
    assert pending_store.active() == []


def pending_store_error(pending_store: PendingStore, pending_id: str, code: str) -> ErrorCode:
    with pytest.raises(PolicyRefused) as caught:
        pending_store.claim_with_code(pending_id, code, PendingKind.PLACE)
    return caught.value.code


def test_normalize_code() -> None:
    assert normalize_code(" abcd-efgh\t") == "ABCDEFGH"


# -- journal ------------------------------------------------------------------------------------


def new_entry(**overrides: object) -> NewEntry:
    values: dict[str, object] = {
        "kind": EntryKind.PLACE,
        "pending_id": "pnd_1",
        "digest": "d" * 64,
        "account_id_key": KEY,
        "client_order_id": "abc",
        "symbol": "KO",
        "action": "BUY",
        "quantity": "5",
        "price_type": "LIMIT",
        "limit_price": "61.5",
        "stop_price": "",
        "order_term": "GOOD_FOR_DAY",
        "market_session": "REGULAR",
        "all_or_none": False,
        "preview_ids": "1",
        "estimated_value": "307.5",
        "created_at": 1_773_154_800.0,
    }
    values.update(overrides)
    return NewEntry(**values)  # type: ignore[arg-type]


def test_the_journal_survives_a_reopen_and_marks_interrupted_requests(tmp_path: Path) -> None:
    path = tmp_path / "state" / "orders.sqlite3"
    journal = Journal(path)
    sending = journal.begin(new_entry())
    done = journal.begin(new_entry(pending_id="pnd_2"))
    journal.resolve(done.id, EntryState.PLACED, at=1.0, order_id=42)
    assert (path.stat().st_mode & 0o777) == 0o600
    with pytest.raises(StateDirInUse) as busy:
        Journal(path)  # a second daemon on the same state directory
    assert "already running" in busy.value.message
    journal.close()  # as if the process died: the lock goes with it

    reopened = Journal(path)
    assert reopened.get(sending.id).state is EntryState.SENDING
    [interrupted] = reopened.mark_interrupted(2.0)
    assert interrupted.id == sending.id and interrupted.state is EntryState.UNKNOWN
    assert [e.id for e in reopened.attention()] == [sending.id]
    assert reopened.claimed_order_ids() == {42}
    assert reopened.get(done.id).order_id == 42
    with pytest.raises(NotFound):
        reopened.get(999)
    reopened.close()


# -- audit log ----------------------------------------------------------------------------------


def audit_log(tmp_path: Path) -> tuple[AuditLog, dict[str, str]]:
    heads: dict[str, str] = {}
    log = AuditLog(
        tmp_path / "audit.jsonl", head_get=lambda: heads.get("head"), head_set=lambda v: heads.update(head=v)
    )
    return log, heads


def test_the_audit_chain_verifies_and_catches_edits_and_deletions(tmp_path: Path) -> None:
    log, _ = audit_log(tmp_path)
    for n in range(5):
        log.append("order.previewed", {"n": n, "symbol": "KO"}, 1000 + n)
    assert log.verify().ok and log.verify().entries == 5
    lines = log.path.read_text().splitlines()

    edited = json.loads(lines[2])
    edited["data"]["symbol"] = "TSLA"
    log.path.write_text("\n".join([*lines[:2], json.dumps(edited), *lines[3:]]) + "\n")
    broken = log.verify()
    assert not broken.ok and broken.first_bad_seq == 3 and "modified" in broken.problem

    log.path.write_text("\n".join([*lines[:2], *lines[3:]]) + "\n")  # entry 3 deleted
    assert "missing" in log.verify().problem

    log.path.write_text("\n".join(lines[:4]) + "\n")  # the newest entry deleted: only the head knows
    tail = log.verify()
    assert not tail.ok and "deleted" in tail.problem

    log.path.write_text("\n".join(lines) + "\n")
    assert log.verify().ok


def test_audit_appends_continue_the_chain_across_instances(tmp_path: Path) -> None:
    log, heads = audit_log(tmp_path)
    log.append("a", {}, 1)
    again = AuditLog(log.path, head_get=lambda: heads.get("head"), head_set=lambda v: heads.update(head=v))
    entry = again.append("b", {"x": Decimal("1.5")}, 2)
    assert entry.seq == 2 and again.verify().ok
    assert [e.event for e in again.entries(limit=1)] == ["b"]


# -- breaker and halt switch --------------------------------------------------------------------


def test_the_breaker_counts_within_its_window() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(clock, threshold=3, window_seconds=60)
    assert breaker.record("A") is None
    clock.value += 61  # the first one falls out of the window
    assert breaker.record("B", operation="preview", client="etrade-mcp/1") is None and breaker.record("C") is None
    trip = breaker.record("A", operation="place", client="etrade-mcp/1")
    assert trip is not None and "3 problems within 60 s" in trip.reason
    assert "(A, B, C) from etrade-mcp/1, unnamed client" in trip.reason
    assert [(p.code, p.operation) for p in trip.problems] == [("B", "preview"), ("C", ""), ("A", "place")]
    assert breaker.recent() == 0


def test_a_breaker_halt_remembers_what_tripped_it_across_a_restart() -> None:
    saved: dict[str, str | None] = {}
    problems = (Problem(1.0, "POLICY_VIOLATION", "preview", "etrade-mcp/1"), Problem(2.0, "INVALID_ARGUMENT"))
    TradingSwitch(saved.get, saved.__setitem__).halt("circuit breaker: 2 problems", "circuit breaker", 3.0, problems)
    state = TradingSwitch(saved.get, saved.__setitem__).state
    assert state.halted and state.by == "circuit breaker" and state.problems == problems


def test_the_halt_switch_persists() -> None:
    saved: dict[str, str | None] = {}
    switch = TradingSwitch(saved.get, saved.__setitem__)
    switch.halt("stop", "operator", 5.0)
    assert TradingSwitch(saved.get, saved.__setitem__).state.reason == "stop"
    switch.resume()
    assert not TradingSwitch(saved.get, saved.__setitem__).halted
    saved["halt"] = "{broken"
    assert TradingSwitch(saved.get, saved.__setitem__).halted  # unreadable: stay halted


# -- reconciliation -----------------------------------------------------------------------------


def listed(order_id: int, **overrides: object) -> Order:
    values: dict[str, object] = {
        "order_id": order_id,
        "account_id_key": KEY,
        "symbol": "KO",
        "symbol_description": "",
        "action": "BUY",
        "ordered_quantity": Decimal(5),
        "filled_quantity": Decimal(0),
        "price_type": "LIMIT",
        "limit_price": Decimal("61.5"),
        "stop_price": None,
        "order_term": "GOOD_FOR_DAY",
        "market_session": "REGULAR",
        "all_or_none": False,
        "status": "OPEN",
        "placed_at_unix_ms": 1_773_154_801_000,
    }
    values.update(overrides)
    return Order(**values)  # type: ignore[arg-type]


def test_reconciliation_matches_one_and_never_guesses(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "orders.sqlite3")
    entry = journal.begin(new_entry())
    now = entry.created_at + 10
    other = [listed(7, ordered_quantity=Decimal(6)), listed(8, symbol="PEP"), listed(9, limit_price=None)]
    old = listed(10, placed_at_unix_ms=1_000)
    assert settle_place(entry, [*other, old], set(), now=now, grace_seconds=60).state is EntryState.UNKNOWN
    found = settle_place(entry, [*other, listed(11)], set(), now=now, grace_seconds=60)
    assert (found.state, found.order_id) == (EntryState.PLACED, 11)
    assert settle_place(entry, [listed(11)], {11}, now=now, grace_seconds=60).state is EntryState.UNKNOWN
    two = settle_place(entry, [listed(11), listed(12)], set(), now=now, grace_seconds=60)
    assert two.state is EntryState.UNKNOWN and two.candidates == (11, 12) and not two.reconciled
    gone = settle_place(entry, [], set(), now=entry.created_at + 61, grace_seconds=60)
    assert gone.state is EntryState.NOT_PLACED and gone.reconciled
    cancel = journal.begin(new_entry(kind=EntryKind.CANCEL, order_id=11))
    assert (
        settle_cancel(cancel, listed(11, status="CANCELLED"), now=now, grace_seconds=60).state
        is EntryState.CANCEL_ACCEPTED
    )
    assert (
        settle_cancel(cancel, listed(11, status="EXECUTED"), now=now, grace_seconds=60).state
        is EntryState.NOT_CANCELLED
    )
    assert settle_cancel(cancel, listed(11), now=now, grace_seconds=60).state is EntryState.UNKNOWN
    journal.close()


# -- placement: drift and market-order protection --------------------------------------------


def _order(action: str, price_type: str = "MARKET") -> OrderRequest:
    return OrderRequest(
        account_id_key=KEY,
        symbol="KO",
        action=Action(action),
        quantity=10,
        price_type=PriceType(price_type),
        limit_price=Decimal("60") if price_type == "LIMIT" else None,
        stop_price=None,
        term=Term.GOOD_FOR_DAY,
        session=MarketSession.REGULAR,
        all_or_none=False,
    )


@pytest.mark.parametrize(
    ("previewed", "now", "limit", "refused"),
    [
        ("100", "102", "2", False),  # exactly at the tolerance
        ("100", "98", "2", False),
        ("100", "102.01", "2", True),
        ("100", "97.99", "2", True),
        ("68.52", "130.19", "2", True),
    ],
)
def test_drift_is_judged_in_both_directions(previewed: str, now: str, limit: str, refused: bool) -> None:
    order = _order("BUY")
    if refused:
        with pytest.raises(PolicyRefused) as caught:
            placement.check_drift(order, Decimal(previewed), Decimal(now), Decimal(limit))
        assert caught.value.code is ErrorCode.PRICE_MOVED and "since the preview" in caught.value.message
    else:
        assert abs(placement.check_drift(order, Decimal(previewed), Decimal(now), Decimal(limit))) <= Decimal(limit)


@pytest.mark.parametrize(
    ("action", "reference", "band", "limit"),
    [
        ("BUY", "68.52", "2", "69.89"),  # 69.8904 rounded down: never above the cap
        ("SELL", "68.52", "2", "67.15"),  # 67.1496 rounded up: never below the floor
        ("BUY_TO_COVER", "10.00", "5", "10.50"),
        ("SELL_SHORT", "0.5003", "2", "0.4903"),  # under $1 the tick is 1/100 cent
        ("BUY", "0.9999", "2", "1.01"),
    ],
)
def test_protective_limits_round_towards_the_safe_side(action: str, reference: str, band: str, limit: str) -> None:
    protected, finding = placement.protect_market_order(_order(action), Decimal(reference), Decimal(band))
    assert protected.price_type is PriceType.LIMIT and protected.limit_price == Decimal(limit)
    assert finding is not None and finding.severity is Severity.SOFT and limit in finding.message


def test_only_market_orders_are_protected() -> None:
    order = _order("BUY", "LIMIT")
    assert placement.protect_market_order(order, Decimal("61"), Decimal("2")) == (order, None)
