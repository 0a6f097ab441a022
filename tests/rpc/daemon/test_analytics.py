"""Portfolio analytics: the arithmetic on a hand-made book, and the daemon's numbers against the
emulator's own valuation of its book."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from broker_client.client import BrokerClient
from broker_client.errors import ErrorCode, NotFound
from daemon.accounts.analytics import analyze
from daemon.market import sectors
from daemon.models import Balance, Portfolio, PortfolioTotals, Position
from emulator import universe
from emulator.valuation import value_account
from protos.broker.v1 import analytics_pb2
from tests.harness.daemons import RunningDaemon

pytestmark = pytest.mark.anyio


def position(symbol: str, value: float, cost: float, days: float, kind: str = "EQ", sub: str = "") -> Position:
    return Position(
        position_id=hash(symbol) & 0xFFFF,
        symbol=symbol,
        security_type=kind,
        security_subtype=sub,
        quantity=10.0 if value >= 0 else -10.0,
        market_value=value,
        total_cost=cost,
        total_gain=value - cost,
        days_gain=days,
    )


def book(*positions: Position, cash: float) -> tuple[Portfolio, Balance]:
    net = sum(p.market_value for p in positions)
    portfolio = Portfolio("ACCT", tuple(positions), PortfolioTotals())
    return portfolio, Balance("ACCT", total_account_value=cash + net, cash_balance=cash)


def test_the_analysis_of_a_small_book_by_hand() -> None:
    portfolio, balance = book(
        position("AAPL", 6000, 5000, 60),
        position("SPY", 3000, 3200, -30, sub="ETF"),
        position("XYZW", 1000, 800, 10),  # not in the sector table
        position("TSLA", -1000, -1200, 5),  # short: sold for 1200, now worth 1000
        cash=3000,
    )
    a = analyze(portfolio, balance, as_of_unix_ms=42)
    assert a.total_account_value == 12000
    assert (a.long_market_value, a.short_market_value, a.gross_exposure) == (10000, -1000, 11000)
    assert a.cash_percent == 25.0
    assert [(h.symbol, h.weight_percent) for h in a.holdings] == [
        ("AAPL", 50.0),
        ("SPY", 25.0),
        ("TSLA", -8.33),
        ("XYZW", 8.33),
    ]
    assert [(r.label, r.market_value, r.weight_percent, r.positions) for r in a.by_asset_class] == [
        ("Stock", 6000, 50.0, 3),
        ("ETF", 3000, 25.0, 1),
        ("Cash", 3000, 25.0, 0),
    ]
    assert [(r.label, r.weight_percent) for r in a.by_sector] == [
        ("Information Technology", 50.0),
        ("ETF - US Large Cap", 25.0),
        ("Consumer Discretionary", -8.33),
        ("Unknown", 8.33),
        ("Cash", 25.0),
    ]
    assert math.isclose(sum(r.weight_percent for r in a.by_sector), 100.0, abs_tol=0.02)
    assert a.sector_coverage_percent == 90.91
    assert a.sector_source == sectors.SOURCE
    assert (a.unrealized_gain, a.total_cost, a.unrealized_gain_percent) == (1200, 7800, 11.76)
    assert (a.winners, a.losers) == (3, 1)
    assert (a.largest_gain_symbol, a.largest_gain, a.largest_loss_symbol, a.largest_loss) == ("AAPL", 1000, "SPY", -200)
    assert (a.largest_position_symbol, a.largest_position_percent, a.top_five_percent) == ("AAPL", 54.55, 100.0)
    assert a.herfindahl_index == round(47 / 121, 4)
    assert a.effective_positions == 2.57
    assert (a.days_gain, a.days_gain_percent) == (45, round(45 / 11955 * 100, 2))
    notes = "\n".join(a.notes)
    assert "E*TRADE does not report sectors" in notes
    assert "XYZW" in notes and "9.09%" in notes
    assert "short positions" in notes


def test_an_empty_account_and_a_zero_value_do_not_break_the_arithmetic() -> None:
    a = analyze(*book(cash=0), as_of_unix_ms=0)
    assert a.position_count == 0 and a.holdings == ()
    assert (a.herfindahl_index, a.effective_positions, a.largest_position_symbol) == (0.0, 0.0, "")
    assert [(r.label, r.weight_percent) for r in a.by_sector] == [("Cash", 0.0)]
    assert any("no positions" in n for n in a.notes)
    assert any("not positive" in n for n in a.notes)


def test_margin_borrowing_is_called_out() -> None:
    a = analyze(*book(position("MSFT", 20000, 15000, 0), cash=-5000), as_of_unix_ms=0)
    assert a.cash_percent == round(-5000 / 15000 * 100, 2)
    assert a.by_asset_class[0].weight_percent == round(20000 / 15000 * 100, 2)
    assert any("borrowing on margin" in n for n in a.notes)


def test_the_bundled_sector_table_agrees_with_the_emulators() -> None:
    # The emulator keeps its own (non-E*TRADE) sector column; on its symbols the daemon's table says the same.
    for symbol, instrument in universe.UNIVERSE.items():
        assert sectors.sector_of(symbol) == instrument.sector, symbol
    assert sectors.sector_of("brk.b") == "Financials"
    assert sectors.sector_of("NOTAREALONE") is None


async def analysis_of(
    client: BrokerClient, key: str
) -> tuple[list[analytics_pb2.AnalysisProgress], analytics_pb2.PortfolioAnalysis]:
    progress = []
    async for update in client.analyze_portfolio(key):
        if update.HasField("progress"):
            progress.append(update.progress)
        else:
            return progress, update.analysis
    raise AssertionError("no analysis")


async def test_the_daemons_analysis_matches_the_emulators_book(daemon: RunningDaemon, broker: BrokerClient) -> None:
    emulator = daemon.emulator
    emulator.clock.set(datetime(2026, 3, 11, 15, 0, tzinfo=UTC))  # 11:00 ET, a Wednesday: prices move
    emulator.clock.freeze()
    margin = next(a for a in emulator.book if a.is_margin)
    _, analysis = await analysis_of(broker, margin.account_id_key)

    moment = emulator.clock.now()
    snaps = {p.symbol: emulator.market.observe(p.symbol, moment) for p in margin.positions.values()}
    truth = value_account(margin, snaps)
    total = truth.total_value
    gross = sum(abs(p.market_value) for p in truth.positions)

    assert analysis.total_account_value == pytest.approx(total, abs=0.01)
    assert analysis.cash_balance == pytest.approx(margin.cash, abs=0.01)
    assert analysis.cash_percent == pytest.approx(margin.cash / total * 100, abs=0.01)
    assert analysis.position_count == len(truth.positions)
    assert analysis.short_market_value == pytest.approx(truth.short_value, abs=0.01) and truth.short_value < 0
    by_symbol = {h.symbol: h for h in analysis.holdings}
    for value in truth.positions:
        holding = by_symbol[value.position.symbol]
        assert holding.market_value == pytest.approx(value.market_value, abs=0.01)
        assert holding.weight_percent == pytest.approx(value.market_value / total * 100, abs=0.01)
        assert holding.total_gain == pytest.approx(value.total_gain, abs=0.02)
        assert holding.sector == universe.sector_of(value.position.symbol)
    assert analysis.unrealized_gain == pytest.approx(sum(p.total_gain for p in truth.positions), abs=0.05)
    assert analysis.days_gain == pytest.approx(sum(p.days_gain for p in truth.positions), abs=0.05)
    hhi = sum((abs(p.market_value) / gross) ** 2 for p in truth.positions)
    assert analysis.herfindahl_index == pytest.approx(hhi, abs=1e-4)
    largest = max(truth.positions, key=lambda p: abs(p.market_value))
    assert analysis.largest_position_symbol == largest.position.symbol
    assert analysis.largest_position_percent == pytest.approx(abs(largest.market_value) / gross * 100, abs=0.01)
    sector_values: dict[str, float] = {}
    for value in truth.positions:
        label = universe.sector_of(value.position.symbol) or "Unknown"
        sector_values[label] = sector_values.get(label, 0.0) + value.market_value
    reported = {row.label: row for row in analysis.by_sector}
    assert set(reported) == {*sector_values, "Cash"}
    for label, market_value in sector_values.items():
        assert reported[label].weight_percent == pytest.approx(market_value / total * 100, abs=0.01)
    assert analysis.sector_coverage_percent == 100.0


async def test_a_portfolio_of_several_pages_reports_progress_per_page(
    daemon: RunningDaemon, broker: BrokerClient
) -> None:
    emulator = daemon.emulator
    account = next(a for a in emulator.book if a.account_mode == "CASH" and a.is_open)
    held = {p.symbol for p in account.positions.values()}
    now = emulator.clock.now()
    for symbol in [s for s in universe.tradable_symbols() if s not in held][:55]:  # past E*TRADE's 50 per page
        emulator.book.apply_fill(account.account_id_key, symbol, 1, 10.0, now)
    progress, analysis = await analysis_of(broker, account.account_id_key)
    assert analysis.position_count == len(account.positions) > 50
    messages = [p.message for p in progress]
    assert "fetched portfolio page 1 of 2" in messages
    assert "fetched portfolio page 2 of 2" in messages
    assert "fetched the balance" in messages
    assert messages[-1] == "computed the analysis"
    assert "fetched the transactions" in messages
    assert [p.done for p in progress] == [1, 2, 3, 4, 5]
    assert progress[-1].total == 5


async def test_an_unknown_account_is_a_not_found_error_through_the_stream(broker: BrokerClient) -> None:
    with pytest.raises(NotFound) as caught:
        await analysis_of(broker, "nosuchaccountkey123456")
    assert caught.value.code is ErrorCode.UNKNOWN_ACCOUNT
