"""The risk rules, one table per rule: each row an account, an order and the verdict it must get.

Plain functions over plain values (no daemon, no emulator): the boundaries of every rule are
pinned here — just under, at and just over each limit — so a changed comparison shows up as a
failed row naming the case.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest

from broker_client.errors import ErrorCode, PolicyRefused
from daemon.models import Balance, Portfolio, PortfolioTotals, Position, Quote
from daemon.orders.model import Action, MarketSession, OrderRequest, PriceType, RiskFinding, Severity, Term
from daemon.orders.risk import (
    DailyActivity,
    RiskInputs,
    RiskLimits,
    assess,
    buying_power,
    concentration,
    daily,
    position,
    refuse_on_hard,
    volatility,
)

LIMITS = RiskLimits(
    max_position_percent=Decimal(20),
    max_daily_orders=5,
    max_daily_value=Decimal(10_000),
    volatility_warn_percent=Decimal(8),
)
NOTHING_TODAY = DailyActivity(orders=0, value=Decimal(0))


def order(action: Action, quantity: int = 10, symbol: str = "KO") -> OrderRequest:
    return OrderRequest(
        account_id_key="acct",
        symbol=symbol,
        action=action,
        quantity=quantity,
        price_type=PriceType.MARKET,
        limit_price=None,
        stop_price=None,
        term=Term.GOOD_FOR_DAY,
        session=MarketSession.REGULAR,
        all_or_none=False,
    )


def balance(*, mode: str = "CASH", cash: float = 0.0, margin: float = 0.0, total: float = 100_000.0) -> Balance:
    return Balance(
        account_id_key="acct",
        account_mode=mode,
        cash_buying_power=cash,
        margin_buying_power=margin,
        total_account_value=total,
    )


def holding(*quantities_and_values: tuple[str, float, float]) -> Portfolio:
    positions = tuple(
        Position(position_id=i, symbol=symbol, quantity=quantity, market_value=value)
        for i, (symbol, quantity, value) in enumerate(quantities_and_values)
    )
    return Portfolio(account_id_key="acct", positions=positions, totals=PortfolioTotals())


def inputs(
    action: Action,
    *,
    quantity: int = 10,
    value: str = "1000",
    held: Portfolio | None = None,
    bal: Balance | None = None,
    quote: Quote | None = None,
    today: DailyActivity = NOTHING_TODAY,
) -> RiskInputs:
    return RiskInputs(
        order=order(action, quantity),
        value=Decimal(value),
        quote=quote or Quote(symbol="KO", previous_close=60.0, change_percent=0.5, high=60.5, low=59.8),
        balance=bal or balance(cash=50_000, margin=100_000),
        portfolio=held or holding(),
        today=today,
    )


@dataclass(frozen=True)
class Row:
    """One case: what the rule is given, and the (check, severity) verdicts it must return."""

    case: str
    given: RiskInputs
    verdicts: tuple[tuple[str, Severity], ...]

    def __str__(self) -> str:
        return self.case


def verdicts(findings: list[RiskFinding]) -> tuple[tuple[str, Severity], ...]:
    return tuple((f.check, f.severity) for f in findings)


BUYING_POWER = [
    Row("a sell never needs buying power", inputs(Action.SELL, value="1e9", bal=balance(cash=0)), ()),
    Row("cash buy well within", inputs(Action.BUY, value="1000", bal=balance(cash=10_000)), ()),
    Row("cash buy at 80 % is quiet", inputs(Action.BUY, value="8000", bal=balance(cash=10_000)), ()),
    Row(
        "cash buy just over 80 % warns",
        inputs(Action.BUY, value="8000.01", bal=balance(cash=10_000)),
        (("buying_power", Severity.SOFT),),
    ),
    Row(
        "cash buy exactly at the power warns but fits",
        inputs(Action.BUY, value="10000", bal=balance(cash=10_000)),
        (("buying_power", Severity.SOFT),),
    ),
    Row(
        "cash buy a cent over the power is refused",
        inputs(Action.BUY, value="10000.01", bal=balance(cash=10_000)),
        (("buying_power", Severity.HARD),),
    ),
    Row(
        "a margin account is measured by margin buying power, not cash",
        inputs(Action.BUY, value="15000", bal=balance(mode="MARGIN", cash=1_000, margin=30_000)),
        (),
    ),
    Row(
        "a short sale in a cash account is refused whatever the power",
        inputs(Action.SELL_SHORT, value="1", bal=balance(cash=1_000_000)),
        (("buying_power", Severity.HARD),),
    ),
    Row(
        "buy to cover needs buying power too",
        inputs(Action.BUY_TO_COVER, value="2000", bal=balance(cash=1_000)),
        (("buying_power", Severity.HARD),),
    ),
    Row(
        "zero buying power refuses any buy",
        inputs(Action.BUY, value="0.01", bal=balance(cash=0)),
        (("buying_power", Severity.HARD),),
    ),
]


@pytest.mark.parametrize("row", BUYING_POWER, ids=str)
def test_buying_power(row: Row) -> None:
    assert verdicts(buying_power(row.given.order, row.given.value, row.given.balance)) == row.verdicts


POSITION = [
    Row("sell what is held", inputs(Action.SELL, quantity=10, held=holding(("KO", 10, 600))), ()),
    Row(
        "sell one more than held",
        inputs(Action.SELL, quantity=11, held=holding(("KO", 10, 600))),
        (("position", Severity.HARD),),
    ),
    Row(
        "lots of the same symbol add up",
        inputs(Action.SELL, quantity=15, held=holding(("KO", 10, 600), ("KO", 5, 300))),
        (),
    ),
    Row("symbols match regardless of case", inputs(Action.SELL, quantity=10, held=holding(("ko", 10, 600))), ()),
    Row(
        "another symbol's shares do not count",
        inputs(Action.SELL, quantity=1, held=holding(("PEP", 100, 6000))),
        (("position", Severity.HARD),),
    ),
    Row(
        "cover no more than the short",
        inputs(Action.BUY_TO_COVER, quantity=10, held=holding(("KO", -10, 600))),
        (),
    ),
    Row(
        "cover more than the short",
        inputs(Action.BUY_TO_COVER, quantity=11, held=holding(("KO", -10, 600))),
        (("position", Severity.HARD),),
    ),
    Row(
        "short a symbol held long",
        inputs(Action.SELL_SHORT, quantity=1, held=holding(("KO", 1, 60))),
        (("position", Severity.HARD),),
    ),
    Row("a buy needs no position", inputs(Action.BUY, quantity=1_000), ()),
]


@pytest.mark.parametrize("row", POSITION, ids=str)
def test_position(row: Row) -> None:
    assert verdicts(position(row.given)) == row.verdicts


CONCENTRATION = [
    Row("a small buy", inputs(Action.BUY, value="1000", bal=balance(total=100_000)), ()),
    Row("at three quarters of the limit is quiet", inputs(Action.BUY, value="15000", bal=balance(total=100_000)), ()),
    Row(
        "over three quarters of the limit warns",
        inputs(Action.BUY, value="15001", bal=balance(total=100_000)),
        (("concentration", Severity.SOFT),),
    ),
    Row(
        "exactly at the limit warns but fits",
        inputs(Action.BUY, value="20000", bal=balance(total=100_000)),
        (("concentration", Severity.SOFT),),
    ),
    Row(
        "what is already held counts",
        inputs(Action.BUY, value="1000", bal=balance(total=100_000), held=holding(("KO", 300, 19_500))),
        (("concentration", Severity.HARD),),
    ),
    Row(
        "a short position's value counts as exposure",
        inputs(Action.SELL_SHORT, value="1000", bal=balance(total=100_000), held=holding(("KO", -300, -19_500))),
        (("concentration", Severity.HARD),),
    ),
    Row(
        "an unknown account value refuses",
        inputs(Action.BUY, value="1", bal=balance(total=0)),
        (("concentration", Severity.HARD),),
    ),
    Row(
        "a sell reduces exposure and is never checked",
        inputs(Action.SELL, value="1e9", bal=balance(total=0), held=holding(("KO", 10, 600))),
        (),
    ),
    Row("buy to cover reduces exposure", inputs(Action.BUY_TO_COVER, value="1e9", bal=balance(total=0)), ()),
]


@pytest.mark.parametrize("row", CONCENTRATION, ids=str)
def test_concentration(row: Row) -> None:
    assert verdicts(concentration(row.given, LIMITS)) == row.verdicts


DAILY = [
    Row("the first order of the day", inputs(Action.BUY, value="100"), ()),
    Row("the fifth order is allowed", inputs(Action.BUY, today=DailyActivity(4, Decimal(0))), ()),
    Row(
        "the sixth order is refused",
        inputs(Action.BUY, today=DailyActivity(5, Decimal(0))),
        (("daily_orders", Severity.HARD),),
    ),
    Row("exactly the daily value", inputs(Action.BUY, value="4000", today=DailyActivity(1, Decimal(6000))), ()),
    Row(
        "a cent over the daily value",
        inputs(Action.BUY, value="4000.01", today=DailyActivity(1, Decimal(6000))),
        (("daily_value", Severity.HARD),),
    ),
    Row(
        "both limits at once give both findings",
        inputs(Action.SELL, value="20000", today=DailyActivity(5, Decimal(0))),
        (("daily_orders", Severity.HARD), ("daily_value", Severity.HARD)),
    ),
]


@pytest.mark.parametrize("row", DAILY, ids=str)
def test_daily_limits(row: Row) -> None:
    assert verdicts(daily(row.given.value, row.given.today, LIMITS)) == row.verdicts


def quote(*, change_percent: float, high: float | None, low: float | None, previous: float | None = 100.0) -> Quote:
    return Quote(symbol="KO", previous_close=previous, change_percent=change_percent, high=high, low=low)


VOLATILITY = [
    Row("a calm day", inputs(Action.BUY, quote=quote(change_percent=1.0, high=101, low=99)), ()),
    Row(
        "a move at the warning level",
        inputs(Action.BUY, quote=quote(change_percent=-8.0, high=None, low=None)),
        (("volatility", Severity.SOFT),),
    ),
    Row(
        "a wide range with no net move",
        inputs(Action.BUY, quote=quote(change_percent=0.0, high=104, low=96)),
        (("volatility", Severity.SOFT),),
    ),
    Row("just under the level", inputs(Action.BUY, quote=quote(change_percent=7.9, high=103, low=96.1)), ()),
    Row(
        "no previous close: nothing to measure against",
        inputs(Action.BUY, quote=quote(change_percent=50, high=150, low=50, previous=None)),
        (),
    ),
]


@pytest.mark.parametrize("row", VOLATILITY, ids=str)
def test_volatility(row: Row) -> None:
    assert verdicts(volatility(row.given, LIMITS)) == row.verdicts


def test_assess_puts_hard_findings_first_and_refuse_raises_the_first_hard_ones_code() -> None:
    given = inputs(
        Action.BUY,
        value="9000",
        bal=balance(cash=5_000, total=100_000),
        quote=quote(change_percent=12.0, high=None, low=None),
        today=DailyActivity(5, Decimal(0)),
    )
    findings = assess(given, LIMITS)
    assert verdicts(findings) == (
        ("buying_power", Severity.HARD),
        ("daily_orders", Severity.HARD),
        ("volatility", Severity.SOFT),
    )
    with pytest.raises(PolicyRefused) as refused:
        refuse_on_hard(findings)
    assert refused.value.code is ErrorCode.INSUFFICIENT_BUYING_POWER
    assert "risk check buying_power failed" in str(refused.value)


@pytest.mark.parametrize(
    ("check", "code"),
    [
        ("position", ErrorCode.INSUFFICIENT_SHARES),
        ("concentration", ErrorCode.CONCENTRATION_LIMIT),
        ("daily_orders", ErrorCode.DAILY_LIMIT),
        ("daily_value", ErrorCode.DAILY_LIMIT),
    ],
)
def test_each_hard_check_refuses_with_its_own_code(check: str, code: ErrorCode) -> None:
    with pytest.raises(PolicyRefused) as refused:
        refuse_on_hard([RiskFinding("volatility", Severity.SOFT, "x"), RiskFinding(check, Severity.HARD, "why")])
    assert refused.value.code is code


def test_only_soft_findings_come_back_as_warnings() -> None:
    given = inputs(Action.BUY, value="8500", bal=balance(cash=10_000))
    warnings = refuse_on_hard(assess(given, LIMITS))
    assert verdicts(warnings) == (("buying_power", Severity.SOFT),)
    assert "uses 85% of the account's cash buying power (10000.00)" in warnings[0].message
