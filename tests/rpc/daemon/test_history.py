"""Transactions through the daemon's gRPC API against the emulator: ranges, filters, the page bound,
the cache (kept with the account caches and forgotten with them), and the error vocabulary."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from broker_client.client import BrokerClient
from broker_client.errors import ErrorCode, InvalidRequest, NotFound
from daemon.accounts.history import KINDS, Transaction, summarize, transaction_kind
from daemon.clock import ET
from tests.harness.daemons import RunningDaemon
from tests.harness.support import requests_to
from tests.harness.trading import session_emulator, spec, trading_daemon

pytestmark = pytest.mark.anyio


def eastern_today(daemon: RunningDaemon) -> datetime:
    return daemon.emulator.clock.now().astimezone(ET)


def days_ago(daemon: RunningDaemon, days: int) -> str:
    return (eastern_today(daemon).date() - timedelta(days=days)).isoformat()


async def margin_key(broker: BrokerClient) -> str:
    accounts = (await broker.list_accounts()).accounts
    return next(a.account_id_key for a in accounts if a.account_mode == "MARGIN")


# -- domain units ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("transaction_type", "amount", "kind"),
    [
        ("Bought", -100.0, "BUY"),
        ("Sold", 100.0, "SELL"),
        ("Sold Short", 100.0, "SELL_SHORT"),
        ("Bought To Cover", -100.0, "BUY_TO_COVER"),
        ("Dividend", 12.0, "DIVIDEND"),
        ("Qualified Dividend", 12.0, "DIVIDEND"),
        ("Interest", 1.0, "INTEREST"),
        ("Margin Interest", -4.0, "FEE"),
        ("Fee", -25.0, "FEE"),
        ("Transfer", 500.0, "TRANSFER"),
        ("Online Transfer", -500.0, "TRANSFER"),
        ("Journal", 0.0, "OTHER"),
    ],
)
def test_transaction_kinds(transaction_type: str, amount: float, kind: str) -> None:
    assert transaction_kind(transaction_type, amount) == kind
    assert kind in KINDS


def test_summary_sums_by_kind() -> None:
    def row(kind: str, amount: float) -> Transaction:
        return Transaction("1", "k", 0, 0, amount, "", kind.title(), kind, "", "", 0, 0, 0, 0)

    summary = summarize(
        [
            row("BUY", -1000.0),
            row("BUY_TO_COVER", -50.0),
            row("SELL", 700.25),
            row("DIVIDEND", 12.5),
            row("DIVIDEND", 7.5),
            row("INTEREST", 1.1),
            row("FEE", -25.0),
            row("TRANSFER", 2000.0),
            row("TRANSFER", -500.0),
        ]
    )
    assert (summary.bought, summary.sold, summary.dividends) == (1050.0, 700.25, 20.0)
    assert (summary.interest, summary.fees, summary.net_transfers, summary.count) == (1.1, 25.0, 1500.0, 9)


# -- through the daemon ---------------------------------------------------------------------------


async def test_default_range_is_the_last_30_days_newest_first(broker: BrokerClient, daemon: RunningDaemon) -> None:
    key = await margin_key(broker)
    listing = await broker.list_transactions(key)
    assert listing.end_date == days_ago(daemon, 0) and listing.start_date == days_ago(daemon, 30)
    assert listing.transactions, "the seeded history has entries every month"
    dates = [t.transaction_date_unix_ms for t in listing.transactions]
    assert dates == sorted(dates, reverse=True)
    assert listing.summary.count == len(listing.transactions)
    assert all(t.account_id_key == key and t.kind in KINDS for t in listing.transactions)


async def test_a_year_follows_every_upstream_page_and_agrees_with_the_emulator(
    broker: BrokerClient, daemon: RunningDaemon
) -> None:
    key = await margin_key(broker)
    emulator = daemon.emulator
    start = eastern_today(daemon).date() - timedelta(days=365)
    expected = [
        row
        for row in emulator.ledger.transactions(key)
        if row.at.astimezone(ET).date() >= start and row.at <= emulator.clock.now()
    ]
    assert len(expected) > 50  # more than one E*TRADE page
    before = requests_to(emulator, "transactions_list")
    listing = await broker.list_transactions(key, start_date=start.isoformat(), limit=1000)
    assert requests_to(emulator, "transactions_list") - before == math.ceil(len(expected) / 50)
    assert {t.transaction_id for t in listing.transactions} == {row.transaction_id for row in expected}
    assert not listing.truncated
    dividends = round(sum(row.amount for row in expected if row.transaction_type == "Dividend"), 2)
    assert listing.summary.dividends == pytest.approx(dividends, abs=0.01)
    # The same range again comes from the daemon's cache.
    again = await broker.list_transactions(key, start_date=start.isoformat(), kinds=["DIVIDEND"])
    assert requests_to(emulator, "transactions_list") - before == math.ceil(len(expected) / 50)
    assert again.summary.dividends == pytest.approx(dividends, abs=0.01)
    assert {t.kind for t in again.transactions} == {"DIVIDEND"}
    caches = {c.name: c for c in (await broker.get_status()).performance.caches}
    assert (caches["transactions"].hits, caches["transactions"].misses) == (1, 1)


async def test_kind_symbol_and_limit_filters(broker: BrokerClient, daemon: RunningDaemon) -> None:
    key = await margin_key(broker)
    start = days_ago(daemon, 3 * 365 - 1)
    trades = await broker.list_transactions(key, start_date=start, kinds=["BUY", "SELL"], limit=1000)
    assert trades.transactions and {t.kind for t in trades.transactions} <= {"BUY", "SELL"}
    symbol = trades.transactions[0].symbol
    one_symbol = await broker.list_transactions(key, start_date=start, symbol=symbol.lower(), limit=1000)
    assert one_symbol.transactions and {t.symbol for t in one_symbol.transactions} == {symbol}
    limited = await broker.list_transactions(key, start_date=start, limit=3)
    assert len(limited.transactions) == 3 and limited.truncated
    assert limited.summary.count == 3


async def test_details_of_a_listed_trade(broker: BrokerClient, daemon: RunningDaemon) -> None:
    key = await margin_key(broker)
    listing = await broker.list_transactions(key, start_date=days_ago(daemon, 365), kinds=["SELL"])
    sale = listing.transactions[0]
    details = await broker.get_transaction(key, sale.transaction_id)
    assert details.transaction.transaction_id == sale.transaction_id
    assert details.transaction.amount == sale.amount and details.transaction.symbol == sale.symbol
    assert details.category == "Investments"
    with pytest.raises(NotFound) as missing:
        await broker.get_transaction(key, "99001000000001")
    assert missing.value.code is ErrorCode.TRANSACTION_NOT_FOUND
    assert "get_transactions" in missing.value.hint


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"start_date": "2026/01/01"}, "start_date must be a date like"),
        ({"end_date": "yesterday"}, "end_date must be a date like"),
        ({"start_date": "2026-03-01", "end_date": "2026-02-01"}, "end_date must not be before start_date"),
        ({"start_date": "2019-01-01", "end_date": "2019-02-01"}, "three years"),
        ({"kinds": ["DIVIDENDS"]}, "unknown transaction kind 'DIVIDENDS'"),
        ({"limit": 5000}, "limit must be between 1 and 1000"),
    ],
)
async def test_bad_requests_say_what_to_fix(broker: BrokerClient, kwargs: dict[str, object], words: str) -> None:
    key = await margin_key(broker)
    with pytest.raises(InvalidRequest) as caught:
        await broker.list_transactions(key, **kwargs)  # type: ignore[arg-type]
    assert caught.value.code is ErrorCode.INVALID_ARGUMENT
    assert words in caught.value.message


async def test_unknown_account_and_bad_transaction_id(broker: BrokerClient) -> None:
    with pytest.raises(NotFound) as caught:
        await broker.list_transactions("nosuchaccountkeyatall1")
    assert caught.value.code is ErrorCode.UNKNOWN_ACCOUNT
    key = await margin_key(broker)
    with pytest.raises(InvalidRequest) as bad:
        await broker.get_transaction(key, "12ab")
    assert "transaction_id must be the digits" in bad.value.message


async def test_a_fill_appears_at_once_although_transactions_are_cached(short_dir: Path) -> None:
    with session_emulator() as emulator:
        # A long cache: only the invalidation after order activity can show the new fill.
        async with trading_daemon(emulator, short_dir, account_cache_ttl=3600.0) as trader:
            key = trader.account_key()
            before = await trader.model.list_transactions(key)
            assert before.transactions
            preview = await trader.model.preview_order(spec(key, "KO", 2))
            code = await trader.code_of(preview.pending.pending_id)
            placed = await trader.model.place_confirmed(preview.pending.pending_id, code)
            emulator.clock.advance(timedelta(seconds=1))  # the emulator fills on its next tick
            after = await trader.model.list_transactions(key)
            newest = after.transactions[0]
            assert (newest.kind, newest.symbol, newest.quantity) == ("BUY", "KO", 2)
            assert newest.transaction_id not in {t.transaction_id for t in before.transactions}
            details = await trader.model.get_transaction(key, newest.transaction_id)
            assert details.order_number == str(placed.order_id)


# -- period activity: dividends and realised gains ------------------------------------------------

DAY_MS = 24 * 3600 * 1000


def trade(tid: int, kind: str, symbol: str, quantity: float, amount: float, day: int) -> Transaction:
    """A transaction ``day`` days after 2024-01-02 (US Eastern noon)."""
    at = int(datetime(2024, 1, 2, 12, tzinfo=ET).timestamp() * 1000) + day * DAY_MS
    return Transaction(str(tid), "k", at, at, amount, "", kind.title(), kind, symbol, "EQ", quantity, 0, 0, 0)


def test_realised_gains_match_sales_to_purchases_first_in_first_out() -> None:
    from datetime import date

    from daemon.accounts.history import period_activity

    history = [
        trade(1, "BUY", "AAA", 10, -1000.0, 0),  # 100/share
        trade(2, "BUY", "AAA", 10, -1500.0, 300),  # 150/share
        trade(3, "SELL", "AAA", -15, 2400.0, 400),  # 160/share; the first lot is then 400 days old
        trade(4, "SELL_SHORT", "BBB", -5, 500.0, 410),
        trade(5, "BUY_TO_COVER", "BBB", 5, -400.0, 420),
        trade(6, "DIVIDEND", "AAA", 0, 12.5, 405),
        trade(7, "SELL", "OLD", -3, 90.0, 415),  # bought before the history: no known cost
        trade(8, "FEE", "", 0, -25.0, 416),
    ]
    activity = period_activity(history, date(2025, 1, 1), date(2025, 12, 31))
    # Sale 3: 10 @100 (held 400 days: long) + 5 @150 (held 100 days: short) = 1750 cost; gain 650,
    # split by shares: 10/15 long. Cover 5: short proceeds 500 - cost 400 = 100, short term.
    assert activity.sales == 3 and activity.unmatched_sales == 1 and not activity.complete
    assert activity.proceeds == 2400.0 + 400.0
    assert activity.cost_basis == 1750.0 + 500.0
    assert activity.realized_gain == 750.0
    assert activity.realized_long_term == pytest.approx(650 * 10 / 15, abs=0.01)
    assert activity.realized_short_term == pytest.approx(650 * 5 / 15 + 100, abs=0.01)
    assert (activity.dividends, activity.fees) == (12.5, 25.0)
    before = period_activity(history, date(2024, 1, 1), date(2024, 12, 31))
    assert (before.sales, before.realized_gain, before.complete) == (0, 0.0, True)


async def test_analysis_reports_the_year_to_date_from_transactions(broker: BrokerClient, daemon: RunningDaemon) -> None:
    from tests.rpc.daemon.test_analytics import analysis_of

    key = await margin_key(broker)
    _, analysis = await analysis_of(broker, key)
    assert analysis.HasField("activity")
    activity = analysis.activity
    today = eastern_today(daemon).date()
    assert (activity.start_date, activity.end_date) == (f"{today.year}-01-01", today.isoformat())
    ledger = daemon.emulator.ledger.transactions(key)
    in_year = [row for row in ledger if row.at.astimezone(ET).date() >= today.replace(month=1, day=1)]
    assert activity.dividends == pytest.approx(
        sum(row.amount for row in in_year if row.transaction_type == "Dividend"), abs=0.01
    )
    # Seeded round trips are closed positions: each sale's gain is its proceeds minus its purchase.
    sales = [row for row in in_year if row.transaction_type == "Sold"]
    assert sales, "the seeded history sells at a loss 12 days before the start"
    expected = 0.0
    for sale in sales:
        purchase = next(r for r in ledger if r.symbol == sale.symbol and r.transaction_type == "Bought")
        expected += sale.amount + purchase.amount
    assert activity.sales == len(sales) and activity.complete
    assert activity.realized_gain == pytest.approx(expected, abs=0.05)
