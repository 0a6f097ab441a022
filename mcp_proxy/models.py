"""Structured results of the market and account tools (market.proto, accounts.proto).

The classes are generated from the .proto files into :mod:`mcp_proxy.wire_models` (``make protos``);
this module names the ones its tools return.
"""

from __future__ import annotations

from broker_client.wire import message_to_dict
from mcp_proxy.wire_models import (
    Account,
    AccountList,
    Balance,
    Lot,
    Portfolio,
    PortfolioTotals,
    Position,
    PositionDetails,
    Quote,
    QuoteList,
    SymbolProblem,
)

__all__ = [
    "Account",
    "AccountList",
    "Balance",
    "Lot",
    "Portfolio",
    "PortfolioTotals",
    "Position",
    "PositionDetails",
    "Quote",
    "QuoteList",
    "SymbolProblem",
    "message_to_dict",
]
