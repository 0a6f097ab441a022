from __future__ import annotations

import pytest

from broker_client.errors import ErrorCode, InvalidRequest
from broker_client.symbols import normalize_symbol, normalize_symbols


@pytest.mark.parametrize(
    ("raw", "expected"), [("aapl", "AAPL"), ("  msft ", "MSFT"), ("brk.b", "BRK.B"), ("BF-B", "BF-B")]
)
def test_symbols_are_trimmed_and_upper_cased(raw: str, expected: str) -> None:
    assert normalize_symbol(raw) == expected


@pytest.mark.parametrize(
    "raw", ["", "   ", "$$$", "AAPL;DROP", "A B", "1ABC", "TOOLONGSYMBOL", "X" * 5000, "ÄPPL", "../x"]
)
def test_garbage_is_refused_with_invalid_symbol(raw: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        normalize_symbol(raw)
    assert caught.value.code is ErrorCode.INVALID_SYMBOL
    assert len(caught.value.message) < 120  # over-long input is not echoed in full


def test_lists_keep_order_drop_duplicates_and_report_bad_items() -> None:
    symbols, errors = normalize_symbols(["msft", "AAPL", "MSFT", "$$$"], limit=50)
    assert symbols == ["MSFT", "AAPL"]
    assert [(e.symbol, e.code) for e in errors] == [("$$$", "INVALID_SYMBOL")]


def test_empty_and_oversized_lists_are_refused() -> None:
    with pytest.raises(InvalidRequest) as caught:
        normalize_symbols([], limit=50)
    assert caught.value.code is ErrorCode.NO_SYMBOLS
    with pytest.raises(InvalidRequest) as caught:
        normalize_symbols(["A"] * 51, limit=50)
    assert caught.value.code is ErrorCode.TOO_MANY_SYMBOLS
