"""The last look before an approved order leaves, and market-order protection.

Between a preview and its confirmation the market moves, and the model chooses when (within the
confirmation's lifetime) to use the human's code. So when a code is claimed, before anything is
sent, the order is judged again against a fresh quote:

- **drift**: the reference price (the ask for buys, the bid for sells) may have moved at most
  ``drift_percent`` from the preview's, in either direction; otherwise PRICE_MOVED and nothing
  is sent. The human approved an order in one market, not in whatever market comes later.
- then the caller applies the preview's own rules again — price band, value cap, daily limits,
  buying power — to the order's value re-estimated at the fresh price.

**Market-order protection** (opt-in): at the preview, a MARKET order becomes a marketable LIMIT
order at the reference price plus the drift tolerance (minus, for sells), rounded towards the
safe side. E*TRADE places only the order that was previewed, so the conversion happens before the
preview and the human approves the LIMIT order itself: its price is the worst fill they accept.

Pure functions over the order model: no I/O, no gRPC.
"""

from __future__ import annotations

import dataclasses
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from broker_client.errors import ErrorCode, PolicyRefused
from daemon.orders.model import OrderRequest, PriceType, RiskFinding, Severity, decimal_text, money_text

CENT = Decimal("0.01")
SUB_DOLLAR_TICK = Decimal("0.0001")
_TENTH = Decimal("0.1")


class PlacementRefused(PolicyRefused):
    """An approved order refused at the moment of sending because the market changed; nothing was sent.

    The market, not the caller, caused it, so it does not feed the circuit breaker.
    """


def drift_percent(previewed: Decimal, now: Decimal) -> Decimal:
    """How far ``now`` lies from ``previewed``, in percent of ``previewed`` (signed)."""
    return (now - previewed) / previewed * 100


def _side(order: OrderRequest) -> str:
    return "ask" if order.action.is_buy else "bid"


def check_drift(order: OrderRequest, previewed: Decimal, now: Decimal, limit_percent: Decimal) -> Decimal:
    """Refuse with PRICE_MOVED when the reference price moved more than ``limit_percent``; return the move."""
    moved = drift_percent(previewed, now)
    if abs(moved) > limit_percent:
        raise PolicyRefused(
            ErrorCode.PRICE_MOVED,
            f"{order.symbol} moved {moved.quantize(_TENTH):+.1f} % since the preview (the {_side(order)} was "
            f"{money_text(previewed)}, it is {money_text(now)} now), more than the "
            f"{decimal_text(limit_percent)} % allowed (ETRADE_PLACEMENT_DRIFT_PERCENT)",
        )
    return moved


def check_session(order: OrderRequest, regular_session: bool) -> None:
    """Outside the regular session a MARKET or STOP order waits for the next open and fills at whatever
    price the market opens at: no estimate the human approved bounds it, so it is refused."""
    if regular_session or order.price_type not in (PriceType.MARKET, PriceType.STOP):
        return
    raise PolicyRefused(
        ErrorCode.POLICY_VIOLATION,
        f"a {order.price_type.value} order outside the regular session (09:30-16:00 US Eastern) would wait for "
        "the next open and fill at any price the market opens at; use a LIMIT (or STOP_LIMIT) order, or let "
        "ETRADE_MARKET_ORDER_PROTECTION turn it into one",
    )


def protective_limit(order: OrderRequest, reference: Decimal, band_percent: Decimal) -> Decimal:
    """The worst price a protected market order accepts: rounded down for buys, up for sells."""
    band = band_percent / 100
    raw = reference * (1 + band) if order.action.is_buy else reference * (1 - band)
    tick = CENT if raw >= 1 else SUB_DOLLAR_TICK
    price = raw.quantize(tick, rounding=ROUND_FLOOR if order.action.is_buy else ROUND_CEILING)
    return max(price, SUB_DOLLAR_TICK)


def protect_market_order(
    order: OrderRequest, reference: Decimal, band_percent: Decimal
) -> tuple[OrderRequest, RiskFinding | None]:
    """A MARKET order as the marketable LIMIT order it is sent as (a STOP as a STOP_LIMIT with the same
    cap beyond its stop), with the finding that tells the human. Any other order comes back unchanged."""
    if order.price_type is PriceType.STOP and order.stop_price is not None:
        cap = protective_limit(order, order.stop_price, band_percent)
        direction = "above" if order.action.is_buy else "below"
        return dataclasses.replace(order, price_type=PriceType.STOP_LIMIT, limit_price=cap), RiskFinding(
            "market_protection",
            Severity.SOFT,
            f"market order protection: sent as a STOP_LIMIT order, limit {money_text(cap)}, "
            f"{decimal_text(band_percent)} % {direction} its stop; once triggered it fills at that price or "
            "better, or not at all",
        )
    if order.price_type is not PriceType.MARKET:
        return order, None
    limit = protective_limit(order, reference, band_percent)
    protected = dataclasses.replace(order, price_type=PriceType.LIMIT, limit_price=limit)
    direction = "above" if order.action.is_buy else "below"
    finding = RiskFinding(
        "market_protection",
        Severity.SOFT,
        f"market order protection: sent as a LIMIT order at {money_text(limit)}, "
        f"{decimal_text(band_percent)} % {direction} the {_side(order)} of {money_text(reference)} at the preview; "
        "it fills at that price or better, or not at all",
    )
    return protected, finding
