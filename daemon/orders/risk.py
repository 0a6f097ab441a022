"""Risk checks run on every preview: each gives a verdict the human sees.

A HARD finding refuses the preview (with its own error code); a SOFT one is a warning shown next to
the confirmation. The checks, in order:

- **buying power** (hard): a buy, buy to cover or short sale must fit the account's buying power
  (cash for cash accounts, margin buying power for margin accounts); soft above 80 % of it;
- **position** (hard): a sell needs the shares, a buy to cover the short position;
- **concentration** (hard): after a buy or short sale, the position may be at most
  ``max_position_percent`` of the account's value; soft above three quarters of that;
- **daily limits** (hard): orders placed today (US Eastern) and their total value;
- **volatility** (soft): today's move or range is unusually large.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from broker_client.errors import ErrorCode, PolicyRefused
from daemon.models import Balance, Portfolio, Quote
from daemon.orders.model import Action, OrderRequest, RiskFinding, Severity, decimal_text, money_text

CENT = Decimal("0.01")
SOFT_BUYING_POWER_SHARE = Decimal("0.8")
SOFT_CONCENTRATION_SHARE = Decimal("0.75")

#: The error code each hard check refuses with.
HARD_CODES = {
    "buying_power": ErrorCode.INSUFFICIENT_BUYING_POWER,
    "position": ErrorCode.INSUFFICIENT_SHARES,
    "concentration": ErrorCode.CONCENTRATION_LIMIT,
    "daily_orders": ErrorCode.DAILY_LIMIT,
    "daily_value": ErrorCode.DAILY_LIMIT,
}


@dataclass(frozen=True)
class RiskLimits:
    max_position_percent: Decimal
    max_daily_orders: int
    max_daily_value: Decimal
    volatility_warn_percent: Decimal


@dataclass(frozen=True)
class DailyActivity:
    """Orders the daemon sent today (placed, or of unknown outcome) and their estimated value."""

    orders: int
    value: Decimal


@dataclass(frozen=True)
class RiskInputs:
    order: OrderRequest
    value: Decimal
    quote: Quote
    balance: Balance
    portfolio: Portfolio
    today: DailyActivity


def _d(value: float | None) -> Decimal:
    return Decimal(str(value)) if value is not None else Decimal(0)


def _pct(part: Decimal, whole: Decimal) -> str:
    return decimal_text((part / whole * 100).quantize(Decimal("0.1"))) if whole else "0"


def buying_power(order: OrderRequest, value: Decimal, balance: Balance) -> list[RiskFinding]:
    """Whether an order of estimated ``value`` fits the account's buying power."""
    if order.action is Action.SELL:
        return []
    margin = balance.account_mode.upper() == "MARGIN"
    if order.action is Action.SELL_SHORT and not margin:
        return [RiskFinding("buying_power", Severity.HARD, "short sales need a margin account")]
    power = _d(balance.margin_buying_power if margin else balance.cash_buying_power)
    kind = "margin buying power" if margin else "cash buying power"
    if value > power:
        return [
            RiskFinding(
                "buying_power",
                Severity.HARD,
                f"the order needs about {money_text(value.quantize(CENT))} but the account's {kind} is "
                f"{money_text(power.quantize(CENT))}",
            )
        ]
    if power and value > power * SOFT_BUYING_POWER_SHARE:
        return [
            RiskFinding(
                "buying_power",
                Severity.SOFT,
                f"the order uses {_pct(value, power)}% of the account's {kind} ({money_text(power.quantize(CENT))})",
            )
        ]
    return []


def _held(portfolio: Portfolio, symbol: str) -> tuple[Decimal, Decimal]:
    """(signed quantity, absolute market value) of the account's position in ``symbol``."""
    quantity = Decimal(0)
    value = Decimal(0)
    for position in portfolio.positions:
        if position.symbol.upper() == symbol:
            quantity += _d(position.quantity)
            value += abs(_d(position.market_value))
    return quantity, value


def position(inputs: RiskInputs) -> list[RiskFinding]:
    order = inputs.order
    held, _ = _held(inputs.portfolio, order.symbol)
    if order.action is Action.SELL and held < order.quantity:
        owned = decimal_text(max(held, Decimal(0)))
        return [
            RiskFinding(
                "position", Severity.HARD, f"the account holds {owned} shares of {order.symbol}, not {order.quantity}"
            )
        ]
    if order.action is Action.BUY_TO_COVER and -held < order.quantity:
        short = decimal_text(max(-held, Decimal(0)))
        return [
            RiskFinding(
                "position",
                Severity.HARD,
                f"the account is short {short} shares of {order.symbol}, not {order.quantity}",
            )
        ]
    if order.action is Action.SELL_SHORT and held > 0:
        return [
            RiskFinding(
                "position", Severity.HARD, f"the account holds {order.symbol} long; sell those shares before shorting"
            )
        ]
    return []


def concentration(inputs: RiskInputs, limits: RiskLimits) -> list[RiskFinding]:
    order = inputs.order
    if not order.action.adds_exposure:
        return []
    total = _d(inputs.balance.total_account_value)
    if total <= 0:
        return [
            RiskFinding(
                "concentration",
                Severity.HARD,
                "the account's total value is unknown, so the position's share of it cannot be checked",
            )
        ]
    _, value = _held(inputs.portfolio, order.symbol)
    after = value + inputs.value
    share = after / total * 100
    limit = limits.max_position_percent
    if share > limit:
        return [
            RiskFinding(
                "concentration",
                Severity.HARD,
                f"{order.symbol} would be {_pct(after, total)}% of the account's value "
                f"({money_text(after.quantize(CENT))} of {money_text(total.quantize(CENT))}); "
                f"the limit is {decimal_text(limit)}% (ETRADE_MAX_POSITION_PERCENT)",
            )
        ]
    if share > limit * SOFT_CONCENTRATION_SHARE:
        return [
            RiskFinding(
                "concentration",
                Severity.SOFT,
                f"{order.symbol} would be {_pct(after, total)}% of the account's value (limit {decimal_text(limit)}%)",
            )
        ]
    return []


def daily(value: Decimal, today: DailyActivity, limits: RiskLimits) -> list[RiskFinding]:
    """Orders and value placed today (US Eastern) plus this order, against the daily limits."""
    findings = []
    if today.orders + 1 > limits.max_daily_orders:
        findings.append(
            RiskFinding(
                "daily_orders",
                Severity.HARD,
                f"{today.orders} orders were already placed today; the limit is {limits.max_daily_orders} "
                "(ETRADE_MAX_DAILY_ORDERS)",
            )
        )
    if today.value + value > limits.max_daily_value:
        findings.append(
            RiskFinding(
                "daily_value",
                Severity.HARD,
                f"today's orders total {money_text(today.value.quantize(CENT))}; this one would bring it to "
                f"{money_text((today.value + value).quantize(CENT))}, above the limit of "
                f"{money_text(limits.max_daily_value)} (ETRADE_MAX_DAILY_VALUE)",
            )
        )
    return findings


def volatility(inputs: RiskInputs, limits: RiskLimits) -> list[RiskFinding]:
    quote = inputs.quote
    previous = _d(quote.previous_close)
    if previous <= 0:
        return []
    move = abs(_d(quote.change_percent))
    day_range = (_d(quote.high) - _d(quote.low)) / previous * 100 if quote.high and quote.low else Decimal(0)
    worst = max(move, day_range)
    if worst >= limits.volatility_warn_percent:
        return [
            RiskFinding(
                "volatility",
                Severity.SOFT,
                f"{quote.symbol} is volatile today: it moved {decimal_text(move.quantize(Decimal('0.1')))}% with a "
                f"range of {decimal_text(day_range.quantize(Decimal('0.1')))}% of the previous close "
                f"(warning at {decimal_text(limits.volatility_warn_percent)}%)",
            )
        ]
    return []


def assess(inputs: RiskInputs, limits: RiskLimits) -> list[RiskFinding]:
    """Every finding, hard ones first."""
    findings = [
        *buying_power(inputs.order, inputs.value, inputs.balance),
        *position(inputs),
        *concentration(inputs, limits),
        *daily(inputs.value, inputs.today, limits),
        *volatility(inputs, limits),
    ]
    return sorted(findings, key=lambda f: f.severity is not Severity.HARD)


def refuse_on_hard(findings: list[RiskFinding]) -> list[RiskFinding]:
    """Raise for the first hard finding; return the soft ones (the warnings)."""
    for finding in findings:
        if finding.severity is Severity.HARD:
            raise PolicyRefused(HARD_CODES[finding.check], f"risk check {finding.check} failed: {finding.message}")
    return findings
