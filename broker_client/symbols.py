"""Ticker symbol validation, shared by every entry point that takes symbols."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from broker_client.errors import ErrorCode, InvalidRequest

MAX_SYMBOL_LENGTH = 10
# Letters first, then letters, digits and the class separators E*TRADE uses (BRK.B, BF-B).
_SYMBOL = re.compile(r"^[A-Z][A-Z0-9.\-]{0,9}$")
# E*TRADE's option symbol (ROOT:YYYY:M:D:CALL:STRIKE) or an OSI key (ROOT + YYMMDD + C/P + 8 digits).
_OPTION = re.compile(r"^[A-Z][A-Z0-9.]{0,9}(:\d{4}:\d{1,2}:\d{1,2}:(CALL|PUT|C|P):[\d.]+|[ \-]*\d{6}[CP]\d{8})$")


@dataclass(frozen=True, slots=True)
class SymbolError:
    """One symbol of a multi-symbol request that could not be answered."""

    symbol: str
    code: str
    message: str


def normalize_symbol(raw: str) -> str:
    """Upper-cased, trimmed symbol; raises InvalidRequest(INVALID_SYMBOL) naming what is wrong."""
    if not isinstance(raw, str):
        raise InvalidRequest(ErrorCode.INVALID_SYMBOL, "a symbol must be text, e.g. AAPL")
    symbol = raw.strip().upper()
    if not symbol:
        raise InvalidRequest(ErrorCode.INVALID_SYMBOL, "the symbol is empty")
    shown = symbol if len(symbol) <= 24 else symbol[:24] + "…"
    if _OPTION.match(symbol):
        raise InvalidRequest(
            ErrorCode.INVALID_SYMBOL,
            f"{shown!r} is an option contract, not a ticker symbol: quote it with get_option_quote "
            "(`etradectl options quote`)",
        )
    if len(symbol) > MAX_SYMBOL_LENGTH:
        raise InvalidRequest(
            ErrorCode.INVALID_SYMBOL,
            f"{shown!r} is too long for a ticker symbol (at most {MAX_SYMBOL_LENGTH} characters)",
        )
    if not _SYMBOL.match(symbol):
        raise InvalidRequest(ErrorCode.INVALID_SYMBOL, f"{shown!r} is not a ticker symbol")
    return symbol


def normalize_symbols(raw: Iterable[str], *, limit: int) -> tuple[list[str], list[SymbolError]]:
    """Valid symbols (deduplicated, in order) and an error for each malformed one.

    Raises for an empty list or more than ``limit`` symbols: those are mistakes in the whole request.
    """
    items = list(raw)
    if not items:
        raise InvalidRequest(ErrorCode.NO_SYMBOLS, "no symbols were given")
    if len(items) > limit:
        raise InvalidRequest(
            ErrorCode.TOO_MANY_SYMBOLS, f"{len(items)} symbols were given; at most {limit} are allowed per request"
        )
    symbols: list[str] = []
    errors: list[SymbolError] = []
    for item in items:
        try:
            symbol = normalize_symbol(item)
        except InvalidRequest as exc:
            errors.append(SymbolError(symbol=str(item)[:24], code=exc.code.value, message=exc.message))
            continue
        if symbol not in symbols:
            symbols.append(symbol)
    return symbols, errors
