"""The seeded book and the fill primitive order simulation will use."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from emulator.book import Book, seed_book
from emulator.market import Market


def snapshot(book: Book) -> list[tuple[object, ...]]:
    return [
        (
            a.account_id_key,
            a.account_id,
            a.cash,
            [(p.position_id, p.symbol, p.quantity, p.price_paid) for p in a.positions.values()],
        )
        for a in book.accounts()
    ]


def test_seeded_book_is_deterministic() -> None:
    assert snapshot(seed_book(42, Market(42))) == snapshot(seed_book(42, Market(42)))
    assert snapshot(seed_book(42, Market(42))) != snapshot(seed_book(43, Market(43)))


@pytest.mark.parametrize("seed", [0, 1, 42, 2026, 99999])
def test_seeded_book_looks_like_the_sandbox_set(seed: int) -> None:
    book = seed_book(seed, Market(seed))
    accounts = book.accounts()
    assert [a.account_mode for a in accounts] == ["MARGIN", "CASH", "IRA", "CASH"]
    assert [a.account_status for a in accounts] == ["ACTIVE", "ACTIVE", "ACTIVE", "CLOSED"]
    assert accounts[3].closed_date > 0 and not accounts[3].positions
    for account in accounts[:3]:
        assert len(account.account_id_key) == 22 and account.account_id.isdigit()
        assert 5 <= len(account.positions) <= 12
        assert account.cash > 0
        for position in account.positions.values():
            assert position.lots and all(lot.acquired_at < datetime(2026, 1, 1, tzinfo=UTC) for lot in position.lots)
    margin = accounts[0]
    assert sum(p.is_short for p in margin.positions.values()) == 1
    assert any(len(p.lots) > 1 for p in margin.positions.values())
    assert not any(p.is_short for a in accounts[1:] for p in a.positions.values())


def test_apply_fill_relieves_lots_first_in_first_out_and_moves_cash() -> None:
    book = seed_book(42, Market(42))
    margin = book.accounts()[0]
    position = next(p for p in margin.positions.values() if len(p.lots) > 1)
    oldest = min(position.lots, key=lambda lot: lot.acquired_at)
    cash, qty, sold = margin.cash, position.quantity, oldest.quantity
    newer = [lot.quantity for lot in position.lots if lot is not oldest]
    at = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
    after = book.apply_fill(margin.account_id_key, position.symbol, -sold, 100.0, at, commission=1.0)
    assert after is position
    assert oldest not in position.lots
    assert [lot.quantity for lot in position.lots] == newer  # the newer lots are untouched
    assert position.quantity == qty - sold
    assert margin.cash == pytest.approx(cash + sold * 100.0 - 1.0)


def test_apply_fill_opens_covers_and_flips() -> None:
    book = seed_book(1, Market(1))
    cash_account = book.accounts()[1]
    key = cash_account.account_id_key
    at = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
    opened = book.apply_fill(key, "zzz", 10, 5.0, at)  # symbols are upper-cased
    assert opened is not None and opened.symbol == "ZZZ" and opened.quantity == 10
    added = book.apply_fill(key, "ZZZ", 5, 6.0, at)
    assert added is opened and opened.quantity == 15 and len(opened.lots) == 2
    flipped = book.apply_fill(key, "ZZZ", -20, 7.0, at)
    assert flipped is not None and flipped.quantity == -5 and flipped.is_short
    assert book.apply_fill(key, "ZZZ", 5, 7.0, at) is None
    assert cash_account.position_for("ZZZ") is None
    with pytest.raises(ValueError):
        book.apply_fill(key, "ZZZ", 0, 1.0, at)
