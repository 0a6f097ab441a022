"""The order tracker on its own: each change published once, persisted atomically before publishing, partial
fills, history at the first look, a damaged file, and pruning."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from daemon.events import Event, EventBus, EventKind
from daemon.orders.model import Order
from daemon.orders.tracker import FILE_NAME, OrderTracker

pytestmark = pytest.mark.anyio

KEY = "acct-1"
T0 = 1_773_154_800.0  # 2026-03-10 15:00 UTC


class Clock:
    def __init__(self) -> None:
        self.at = T0

    def now(self) -> float:
        return self.at


def order(order_id: int, status: str = "OPEN", filled: str = "0", **fields: object) -> Order:
    values: dict[str, object] = {
        "order_id": order_id,
        "account_id_key": KEY,
        "symbol": "KO",
        "symbol_description": "",
        "action": "BUY",
        "ordered_quantity": Decimal(10),
        "filled_quantity": Decimal(filled),
        "price_type": "LIMIT",
        "limit_price": Decimal("60"),
        "stop_price": None,
        "order_term": "GOOD_FOR_DAY",
        "market_session": "REGULAR",
        "all_or_none": False,
        "status": status,
        "placed_at_unix_ms": int(T0 * 1000),
    }
    values.update(fields)
    return Order(**values)  # type: ignore[arg-type]


def drain(bus_events: list[Event]) -> list[tuple[str, str, str, str]]:
    seen = [
        (
            e.attributes["order_id"],
            e.attributes["previous_status"],
            e.attributes["status"],
            e.attributes["filled_quantity"],
        )
        for e in bus_events
    ]
    bus_events.clear()
    return seen


def tracker_with_bus(path: Path | None, clock: Clock) -> tuple[OrderTracker, list[Event]]:
    bus = EventBus(clock, instance_id="test")
    published: list[Event] = []
    original = bus.publish

    def record(kind: EventKind, subject: str = "", **attributes: str) -> Event:
        event = original(kind, subject, **attributes)
        published.append(event)
        return event

    bus.publish = record  # type: ignore[method-assign]
    tracker = OrderTracker(path, clock, bus)
    tracker.load()
    return tracker, published


async def test_the_first_look_is_silent_and_later_changes_are_published_once(tmp_path: Path) -> None:
    clock = Clock()
    tracker, published = tracker_with_bus(tmp_path / FILE_NAME, clock)
    assert tracker.observe(KEY, [order(1), order(2, "EXECUTED", "10")]) is True
    tracker.watched(KEY, clock.now())
    assert drain(published) == []  # history, and a working order already there: the starting point
    assert [k.order_id for k in tracker.working()] == [1]

    clock.at += 60
    tracker.observe(KEY, [order(1, "OPEN", "4"), order(2, "EXECUTED", "10")])  # a partial fill
    tracker.observe(KEY, [order(1, "OPEN", "4")])  # seen again: nothing new
    tracker.observe(KEY, [order(1, "EXECUTED", "10", average_execution_price=Decimal("59.5"))])
    tracker.observe(KEY, [order(1, "EXECUTED", "10")])
    assert drain(published) == [("1", "OPEN", "OPEN", "4"), ("1", "OPEN", "EXECUTED", "10")]
    fills = tracker.recent_fills()
    assert [(f.order_id, f.filled_quantity, f.average_price) for f in fills] == [(1, "10", "59.5"), (1, "4", "")]

    # A new daemon on the same file publishes nothing it already knew.
    again, published_again = tracker_with_bus(tmp_path / FILE_NAME, clock)
    again.observe(KEY, [order(1, "EXECUTED", "10"), order(2, "EXECUTED", "10")])
    assert drain(published_again) == []
    assert [f.order_id for f in again.recent_fills(KEY)] == [1, 1]


async def test_the_file_is_written_before_the_event_is_published(tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / FILE_NAME
    tracker, _ = tracker_with_bus(path, clock)
    tracker.watched(KEY, clock.now())
    written_at_publication: list[dict[str, Any]] = []
    assert tracker._events is not None
    bus_publish = tracker._events.publish

    def check(kind: EventKind, subject: str = "", **attributes: str) -> Event:
        written_at_publication.append(json.loads(path.read_text()))
        return bus_publish(kind, subject, **attributes)

    tracker._events.publish = check  # type: ignore[method-assign]
    tracker.observe(KEY, [order(5)])
    [document] = written_at_publication
    assert [o["status"] for o in document["orders"]] == ["OPEN"]
    assert path.stat().st_mode & 0o777 == 0o600


async def test_an_order_placed_here_keeps_its_origin_whoever_sees_it_first(tmp_path: Path) -> None:
    clock = Clock()
    tracker, published = tracker_with_bus(None, clock)
    tracker.watched(KEY, clock.now())
    tracker.observe(KEY, [order(7)])  # a listing raced the placement's answer
    tracker.placed(KEY, 7, symbol="KO", action="BUY", quantity="10", placed_at_unix_ms=int(T0 * 1000))
    tracker.observe(KEY, [order(7, "CANCELLED")])
    events = list(published)
    assert [(e.attributes["status"], e.attributes["placed_by"]) for e in events] == [
        ("OPEN", "outside"),
        ("CANCELLED", "this_system"),
    ]
    assert tracker.placed(KEY, 7, symbol="KO", action="BUY", quantity="10", placed_at_unix_ms=0) is False


async def test_closed_orders_first_seen_after_the_baseline_are_news_and_before_it_are_not(tmp_path: Path) -> None:
    clock = Clock()
    tracker, published = tracker_with_bus(None, clock)
    tracker.watched(KEY, clock.now())
    early = int((T0 - 3600) * 1000)
    late = int((T0 + 30) * 1000)
    tracker.observe(
        KEY,
        [
            order(10, "EXECUTED", "10", placed_at_unix_ms=early, executed_at_unix_ms=early),
            order(11, "EXECUTED", "10", placed_at_unix_ms=early, executed_at_unix_ms=late),
            order(12, "REJECTED", placed_at_unix_ms=late),
        ],
    )
    assert sorted(drain(published)) == [("11", "", "EXECUTED", "10"), ("12", "", "REJECTED", "0")]


async def test_a_damaged_file_starts_afresh_without_repeating_anything(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / FILE_NAME
    path.write_text("{not json")
    clock = Clock()
    tracker, published = tracker_with_bus(path, clock)
    assert "start afresh" in caplog.text
    tracker.observe(KEY, [order(1, "EXECUTED", "10")])
    assert drain(published) == []  # no baseline any more: history stays silent
    assert json.loads(path.read_text())["version"] == 1


async def test_old_closed_orders_and_fills_are_pruned(tmp_path: Path) -> None:
    clock = Clock()
    tracker, _ = tracker_with_bus(tmp_path / FILE_NAME, clock)
    tracker.watched(KEY, clock.now())
    tracker.observe(KEY, [order(1)])
    tracker.observe(KEY, [order(1, "EXECUTED", "10")])
    tracker.observe(KEY, [order(2)])
    clock.at += 70 * 86_400
    tracker.observe(KEY, [replace(order(3), placed_at_unix_ms=int(clock.at * 1000))])
    assert tracker.get(1) is None and tracker.get(2) is not None  # a working order is never forgotten
    assert tracker.recent_fills() == []
