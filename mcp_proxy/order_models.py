"""Structured results of the order tools (their output schemas), mirroring orders.proto field by field.

Prices and money are exact decimals as strings ("187.25"); an empty string means "none". No model
here has a field for a confirmation code: the proxy never receives one.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class Order(BaseModel):
    """An order as E*TRADE lists it."""

    order_id: int
    account_id_key: str
    symbol: str
    symbol_description: str = ""
    action: str = Field(description="BUY, SELL, BUY_TO_COVER or SELL_SHORT")
    ordered_quantity: str
    filled_quantity: str
    price_type: str
    limit_price: str = ""
    stop_price: str = ""
    order_term: str = ""
    market_session: str = ""
    all_or_none: bool = False
    status: str = Field(description="OPEN, EXECUTED, CANCELLED, CANCEL_REQUESTED, EXPIRED, REJECTED, ...")
    placed_at_unix_ms: int = 0
    executed_at_unix_ms: int = Field(0, description="0 until it executed")
    average_execution_price: str = ""
    order_value: str = ""
    estimated_commission: str = ""
    replaces_order_id: int = 0
    replaced_by_order_id: int = 0


class OrderList(BaseModel):
    """Orders of one account, newest first."""

    orders: list[Order]


class OrderSpec(BaseModel):
    """The order exactly as it would be sent."""

    account_id_key: str
    symbol: str
    action: str
    quantity: int
    price_type: str
    limit_price: str = ""
    stop_price: str = ""
    order_term: str
    market_session: str
    all_or_none: bool = False


class EtradeMessage(BaseModel):
    code: int
    type: str = Field(description="WARNING, INFO, ...")
    description: str


class RiskWarning(BaseModel):
    """A risk check that did not refuse the order but that the human should weigh."""

    check: str = Field(description="buying_power, concentration, volatility, ...")
    message: str


class OrderPreview(BaseModel):
    """E*TRADE's preview of the order."""

    preview_ids: list[int]
    estimated_total_amount: str = Field(description="USD; positive for buys (cost), negative for sells (proceeds)")
    estimated_commission: str
    total_order_value: str
    preview_time_unix_ms: int = 0
    messages: list[EtradeMessage] = Field(description="E*TRADE's messages about the order; relay them")
    buying_power: str = ""
    buying_power_after: str = ""


class PendingOrder(BaseModel):
    """An order (or a cancel) held by the daemon until a human confirms it. Nothing was sent yet."""

    pending_id: str = Field(description="pass this to place_order_confirmed / cancel_order_confirmed")
    kind: str = Field(description="PLACE or CANCEL")
    state: str = Field(description="PENDING, CONFIRMED, REJECTED, VOIDED or EXPIRED")
    account_id_key: str
    order: OrderSpec | None = Field(None, description="kind PLACE: the order")
    preview: OrderPreview | None = Field(None, description="kind PLACE: E*TRADE's estimates and messages")
    cancel_target: Order | None = Field(None, description="kind CANCEL: the order it would cancel")
    warnings: list[RiskWarning] = Field(description="risk warnings to show the human before they confirm")
    estimated_value: str = ""
    reference_price: str = Field("", description="the live price the order was checked against")
    symbol_description: str = ""
    created_at_unix_ms: int = 0
    expires_at_unix_ms: int = 0
    expires_at_et: str = ""
    digest: str = Field("", description="SHA-256 of the exact order the confirmation is bound to")
    attempts_left: int = Field(0, description="wrong codes left before the pending order is voided")
    summary: str = Field("", description="the order in one line")
    confirm_instructions: str = Field("", description="how the human confirms; tell them")


class PlacedOrder(BaseModel):
    """The order is at E*TRADE."""

    order_id: int
    placed_at_unix_ms: int = 0
    messages: list[EtradeMessage]
    journal_entry: int = Field(description="the daemon's journal entry recording this placement")
    pending: PendingOrder | None = None


class CancelledOrder(BaseModel):
    """E*TRADE accepted the cancel request (the order shows CANCEL_REQUESTED, then CANCELLED)."""

    order_id: int
    cancel_time_unix_ms: int = 0
    messages: list[EtradeMessage]
    journal_entry: int
    pending: PendingOrder | None = None


class Fill(BaseModel):
    """Shares of an order that filled, as the daemon noticed them."""

    account_id_key: str
    order_id: int
    symbol: str
    action: str = Field(description="BUY, SELL, BUY_TO_COVER or SELL_SHORT")
    ordered_quantity: str
    filled_quantity: str = Field(description="Filled so far; all of ordered_quantity once status is EXECUTED")
    average_price: str = Field("", description="Average fill price; empty when E*TRADE did not say")
    status: str = Field(description="EXECUTED, or OPEN/PARTIAL for a partial fill")
    placed_by: str = Field(description="this_system (placed through etrade-mcp) or outside (web, app, other tools)")
    executed_at_unix_ms: int = Field(0, description="0 when E*TRADE did not say")
    noticed_at_unix_ms: int = 0


class RecentFills(BaseModel):
    """Fills the daemon noticed, newest first, and what its fill watcher is doing."""

    fills: list[Fill]
    watcher_state: str = Field("", description="e.g. 'watching working orders', 'idle: no working orders'")
    working_orders: int = Field(0, description="Orders still working at E*TRADE, as last seen")
    last_checked_at_unix_ms: int = Field(0, description="When the daemon last looked at E*TRADE's orders; 0: not yet")
