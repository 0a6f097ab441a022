"""Output models of the option and symbol-lookup tools (their JSON shapes).

The wire types are generated from options.proto and market.proto into :mod:`mcp_proxy.wire_models`
(``make protos``); :class:`SymbolLookup` is the proxy's own (it counts the matches it leaves out).
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from mcp_proxy.wire_models import (
    LookupMatch,
    OptionChain,
    OptionChainRow,
    OptionContract,
    OptionExpiration,
    OptionExpirations,
    OptionQuote,
)

__all__ = [
    "LookupMatch",
    "OptionChain",
    "OptionChainRow",
    "OptionContract",
    "OptionExpiration",
    "OptionExpirations",
    "OptionQuote",
    "SymbolLookup",
]


class SymbolLookup(BaseModel):
    """Securities whose company name matches the search, at most `limit` of them."""

    products: list[LookupMatch]
    more_matches: int = Field(description="matches left out beyond the limit; narrow the search to see them")
