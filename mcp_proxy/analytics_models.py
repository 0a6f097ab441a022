"""Structured results of the portfolio analysis and watchlist tools (analytics.proto, watchlists.proto).

The classes are generated from the .proto files into :mod:`mcp_proxy.wire_models` (``make protos``);
this module names the ones its tools return.
"""

from __future__ import annotations

from mcp_proxy.wire_models import Allocation, Holding, PeriodActivity, PortfolioAnalysis, Watchlist, WatchlistList

__all__ = ["Allocation", "Holding", "PeriodActivity", "PortfolioAnalysis", "Watchlist", "WatchlistList"]
