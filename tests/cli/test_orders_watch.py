"""`etradectl orders watch` lines: readable, and nothing from E*TRADE or the model can drive the terminal."""

from __future__ import annotations

import io

from cli.commands.watch import describe
from cli.output import Output


def test_a_fill_reads_as_one_line() -> None:
    line = describe(
        "ORDER_STATUS_CHANGED",
        "acct",
        {
            "order_id": "42",
            "status": "EXECUTED",
            "previous_status": "OPEN",
            "symbol": "KO",
            "side": "BUY",
            "quantity": "10",
            "filled_quantity": "10",
            "average_price": "61.5",
            "placed_by": "outside",
        },
    )
    assert (
        line == "order 42: BUY 10 KO: OPEN -> EXECUTED, filled 10 at 61.5 [placed outside etrade-mcp]  (account acct)"
    )
    assert describe("PENDING_ORDERS_CHANGED", "pnd_1", {"change": "created"}).startswith("pending pnd_1: created")
    assert describe("SESSION_STATE_CHANGED", "EXPIRED", {"previous": "ACTIVE"}) == "session ACTIVE -> EXPIRED"
    assert describe("TRADING_STATE_CHANGED", "disabled", {"reason": "halt"}) == "trading disabled: halt"


def test_escape_sequences_in_an_event_are_shown_not_obeyed() -> None:
    stdout = io.StringIO()
    out = Output(json_mode=False, stdout=stdout, stderr=io.StringIO())
    hostile = {"order_id": "1", "status": "OPEN", "symbol": "KO\x1b[2J\u202e", "side": "BUY", "quantity": "1"}
    out.line(describe("ORDER_STATUS_CHANGED", "acct\x1b]0;pwned\x07", hostile))
    shown = stdout.getvalue()
    assert "\x1b" not in shown and "\u202e" not in shown and "\x07" not in shown
    assert "\\x1b[2J" in shown
