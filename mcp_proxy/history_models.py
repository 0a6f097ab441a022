"""Structured results of the transaction history and alert tools (history.proto, alerts.proto).

The classes are generated from the .proto files into :mod:`mcp_proxy.wire_models` (``make protos``);
this module names the ones its tools return.
"""

from __future__ import annotations

from mcp_proxy.wire_models import (
    Alert,
    AlertDetails,
    AlertList,
    Transaction,
    TransactionDetails,
    TransactionList,
    TransactionSummary,
)

__all__ = [
    "Alert",
    "AlertDetails",
    "AlertList",
    "Transaction",
    "TransactionDetails",
    "TransactionList",
    "TransactionSummary",
]
