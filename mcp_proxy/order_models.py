"""Structured results of the order tools (orders.proto). Prices and money are exact decimals as strings ("187.25"); an empty
string means "none". No model here has a field for a confirmation code: the proxy never receives one.

The classes are generated from the .proto files into :mod:`mcp_proxy.wire_models` (``make protos``);
this module names the ones its tools return.
"""

from __future__ import annotations

from mcp_proxy.wire_models import (
    CancelledOrder,
    EtradeMessage,
    Fill,
    Order,
    OrderList,
    OrderPreview,
    OrderSpec,
    PendingOrder,
    PlacedOrder,
    RecentFills,
    RiskWarning,
)

__all__ = [
    "CancelledOrder",
    "EtradeMessage",
    "Fill",
    "Order",
    "OrderList",
    "OrderPreview",
    "OrderSpec",
    "PendingOrder",
    "PlacedOrder",
    "RecentFills",
    "RiskWarning",
]
