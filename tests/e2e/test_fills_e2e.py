"""Fills end to end with real processes: the daemon's fill watcher notices a fill at the emulator, the
proxy tells a subscriber of ``fills://recent`` over stdio, and ``get_recent_fills`` lists it; ``etradectl
orders watch --json`` follows the same events."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, MCPDeprecationWarning, StdioServerParameters
from mcp.shared.subscriptions import ResourceUpdated
from mcp.types import ResourceUpdatedNotification

from cli import exit_codes
from emulator.local_system import ROOT
from tests.processes import System, login_with_etradectl, running_system

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

FILLS = "fills://recent"
#: A Tuesday morning on the emulator's clock (it runs on from there at the host's pace).
REGULAR_SESSION = "2026-03-10T11:00:00-04:00"
WATCHING = {"ETRADE_NOTIFY_CODES": "false", "ETRADE_FILL_WATCH_INTERVAL_SECONDS": "0.2"}


@contextmanager
def trading_system(home: Path) -> Iterator[System]:
    with running_system(home, "--no-read-only", env_extra=WATCHING, start=REGULAR_SESSION) as system:
        login_with_etradectl(system.env, system.socket)
        yield system


def proxy(system: System) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable, args=["-m", "mcp_proxy", "--socket", str(system.socket)], env=system.env
    )


def margin_account(system: System) -> str:
    accounts = system.ctl("--json", "accounts").json()["accounts"]
    return str(next(a["account_id_key"] for a in accounts if a["account_mode"] == "MARGIN"))


async def place_resting_buy(mcp: Client, system: System, key: str) -> int:
    """KO at 60, a buy limit at 55 through the model's tools with the human's code: it rests."""
    system.admin("POST", "/prices", {"symbol": "KO", "price": 60.0})
    preview = await mcp.call_tool(
        "preview_order",
        {
            "account_id_key": key,
            "symbol": "KO",
            "order_action": "BUY",
            "quantity": 4,
            "price_type": "LIMIT",
            "limit_price": "55",
        },
    )
    assert not preview.is_error and preview.structured_content is not None, preview.content
    pending_id = preview.structured_content["pending_id"]
    pending = system.ctl("--json", "orders", "pending").json()["pending"]
    code = next(p["confirmation_code"] for p in pending if p["pending"]["pending_id"] == pending_id)
    placed = await mcp.call_tool("place_order_confirmed", {"pending_id": pending_id, "confirmation_code": code})
    assert not placed.is_error and placed.structured_content is not None, placed.content
    return int(placed.structured_content["order_id"])


@pytest.mark.parametrize("mode", ["auto", "legacy"], ids=["2026-07-28", "2025-11-25"])
async def test_a_fill_reaches_a_subscriber_and_get_recent_fills_over_stdio(short_dir: Path, mode: str) -> None:
    with trading_system(short_dir) as system:
        key = margin_account(system)
        updates = anyio.create_memory_object_stream[str](50)
        send, receive = updates

        async def on_message(message: Any) -> None:
            if isinstance(message, ResourceUpdatedNotification):
                await send.send(str(message.params.uri))

        with send, receive, anyio.fail_after(90):
            async with Client(proxy(system), mode=mode, message_handler=on_message) as mcp:
                order_id = await place_resting_buy(mcp, system, key)
                before = await mcp.call_tool("get_recent_fills", {})
                assert before.structured_content is not None and before.structured_content["fills"] == []
                assert before.structured_content["working_orders"] == 1
                system.daemon.wait_for_stderr(r"events: etrade-mcp/live subscribed")
                if mode == "legacy":
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", MCPDeprecationWarning)
                        await mcp.subscribe_resource(FILLS)
                    system.admin("POST", "/prices", {"symbol": "KO", "price": 50.0})  # through the limit
                    while await receive.receive() != FILLS:
                        pass
                else:
                    async with mcp.listen(resource_subscriptions=[FILLS]) as stream:
                        system.admin("POST", "/prices", {"symbol": "KO", "price": 50.0})
                        assert await anext(stream) == ResourceUpdated(FILLS)
                result = await mcp.call_tool("get_recent_fills", {"account_id_key": key})
                assert not result.is_error and result.structured_content is not None, result.content
                [fill] = result.structured_content["fills"]
                assert (fill["order_id"], fill["status"], fill["filled_quantity"], fill["placed_by"]) == (
                    order_id,
                    "EXECUTED",
                    "4",
                    "this_system",
                )
                assert float(fill["average_price"]) <= 55
                assert result.structured_content["working_orders"] == 0
                resource = await mcp.read_resource(FILLS)
                assert json.loads(resource.contents[0].text)["fills"][0]["order_id"] == order_id  # type: ignore[union-attr]


def test_etradectl_orders_watch_follows_a_fill_as_json_lines(short_dir: Path) -> None:
    with trading_system(short_dir) as system:
        watch = subprocess.Popen(
            [sys.executable, "-m", "cli", "--socket", str(system.socket), "--json", "orders", "watch"],
            env=system.env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        lines: queue.Queue[str] = queue.Queue()
        assert watch.stdout is not None

        def read() -> None:
            for line in watch.stdout or ():
                lines.put(line)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            started = json.loads(lines.get(timeout=60))
            assert started["kind"] == "STREAM_STARTED"
            key = margin_account(system)

            async def place() -> int:
                async with Client(proxy(system)) as mcp:
                    return await place_resting_buy(mcp, system, key)

            order_id = anyio.run(place)
            system.admin("POST", "/prices", {"symbol": "KO", "price": 50.0})
            seen: list[dict[str, Any]] = []
            while not any(e.get("attributes", {}).get("status") == "EXECUTED" for e in seen):
                seen.append(json.loads(lines.get(timeout=60)))
            statuses = [
                (e["attributes"]["order_id"], e["attributes"]["status"])
                for e in seen
                if e["kind"] == "ORDER_STATUS_CHANGED"
            ]
            assert statuses == [(str(order_id), "OPEN"), (str(order_id), "EXECUTED")]
            assert any(e["kind"] == "PENDING_ORDERS_CHANGED" for e in seen)
        finally:
            watch.terminate()
            watch.wait(timeout=20)
            reader.join(timeout=20)
            for stream in (watch.stdout, watch.stderr):
                if stream is not None:
                    stream.close()
        assert watch.returncode in (0, exit_codes.INTERRUPTED, -15)
