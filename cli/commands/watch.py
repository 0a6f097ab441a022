"""``etradectl orders watch``: follow the daemon's events in the terminal until Ctrl-C.

Order status changes (placed, partial and complete fills, cancels, rejections, expiries — also of
orders placed outside this system, which the daemon's fill watcher notices), pending orders waiting
for a confirmation, trading halted or resumed, and the session's state. One line per event, every
text escaped with :func:`cli.output.printable` (symbols and account keys come from E*TRADE or the
model); ``--json`` prints one JSON object per line, flushed at once, for scripts.

Events carry no codes: a pending order's code is read with ``etradectl orders pending``. If the
daemon stops, the watch says so and follows the next daemon on the same socket.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse

    from cli.main import Context

#: The event kinds followed (events.proto, without the EVENT_KIND_ prefix).
FOLLOWED = ("ORDER_STATUS_CHANGED", "PENDING_ORDERS_CHANGED", "TRADING_STATE_CHANGED", "SESSION_STATE_CHANGED")
RECONNECT_MIN = 0.5
RECONNECT_MAX = 10.0


def describe(kind: str, subject: str, attributes: dict[str, str]) -> str:
    """One readable line (not yet escaped) for an event."""
    a = attributes.get
    if kind == "ORDER_STATUS_CHANGED":
        previous = a("previous_status", "")
        change = f"{previous} -> {a('status', '?')}" if previous else f"{a('status', '?')} (newly seen)"
        text = f"order {a('order_id', '?')}: {a('side', '')} {a('quantity', '')} {a('symbol', '')}: {change}"
        filled = a("filled_quantity", "")
        if filled and filled != "0":
            text += f", filled {filled}"
            if a("average_price"):
                text += f" at {a('average_price')}"
        placed_by = a("placed_by", "")
        if placed_by:
            text += " [placed here]" if placed_by == "this_system" else " [placed outside etrade-mcp]"
        return f"{text}  (account {subject})"
    if kind == "PENDING_ORDERS_CHANGED":
        text = f"pending {subject}: {a('change', 'changed')}"
        if a("change") == "created":
            text += " — see it with its code: `etradectl orders pending`"
        return text
    if kind == "TRADING_STATE_CHANGED":
        return f"trading {subject}" + (f": {a('reason')}" if a("reason") else "")
    if kind == "SESSION_STATE_CHANGED":
        return f"session {a('previous', '?')} -> {subject}" + (f" ({a('reason')})" if a("reason") else "")
    return f"{kind.lower()} {subject}"


def _clock(ms: int) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ms / 1000)) if ms else "--:--:--"


async def run_watch(ctx: Context, args: argparse.Namespace) -> int:
    from broker_client.errors import DaemonUnavailable, RateLimited
    from protos.broker.v1 import events_pb2

    kinds = [events_pb2.EventKind.Value(f"EVENT_KIND_{name}") for name in FOLLOWED]
    out = ctx.out
    followed_once = False
    delay = RECONNECT_MIN
    if not out.json_mode:
        out.info("following order, pending-order, trading and session events; Ctrl-C to stop")
    while True:
        try:
            async for event in ctx.client().subscribe_events(kinds):
                kind = events_pb2.EventKind.Name(event.kind).removeprefix("EVENT_KIND_")
                attributes = dict(event.attributes)
                if kind == "STREAM_STARTED":
                    if followed_once and not out.json_mode:
                        out.info(f"following the daemon again ({event.subject}); events in between were not replayed")
                    followed_once = True
                    delay = RECONNECT_MIN
                if out.json_mode:
                    document: dict[str, Any] = {
                        "kind": kind,
                        "subject": event.subject,
                        "attributes": attributes,
                        "at_unix_ms": event.at_unix_ms,
                        "sequence": event.sequence,
                    }
                    # One line per event; ensure_ascii keeps anything a terminal could act on escaped.
                    out.stdout.write(json.dumps(document, ensure_ascii=True, sort_keys=True) + "\n")
                    out.stdout.flush()
                elif kind != "STREAM_STARTED":
                    out.line(f"{_clock(event.at_unix_ms)}  {describe(kind, event.subject, attributes)}")
                    out.stdout.flush()
        except DaemonUnavailable:
            if not followed_once:
                raise  # not running at all: say so, with the usual hint and exit status
        except RateLimited as exc:  # this watch fell too far behind: it was ended, follow again
            out.warn(exc.message)
        if not out.json_mode:
            out.info(f"the daemon ended the event stream; reconnecting in {delay:g} s (Ctrl-C to stop)")
        await asyncio.sleep(delay)  # a pause before reconnecting, not a synchronisation
        delay = min(delay * 2, RECONNECT_MAX)
        await ctx.close()
        ctx._client = None
