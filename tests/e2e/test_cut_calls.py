"""A call cut short by the daemon stopping (SIGTERM) or dying (SIGKILL) gets an honest error.

Reads and previews: DAEMON_UNAVAILABLE, saying the daemon stopped during the call, with "ask
again"; never INTERNAL (the soak's fault phase once saw "the broker daemon failed: CANCELLED" for a
call that arrived while the daemon was stopping). A call that may have sent an order or a cancel:
ORDER_OUTCOME_UNKNOWN, never "try again", naming where the outcome shows. Calls that finish within
the stop's grace period are answered normally. Real processes; the emulator holds E*TRADE's answer
so a call is in flight exactly when the signal arrives.
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from broker_client.client import BrokerClient
from broker_client.errors import BrokerError, ErrorCode
from cli import exit_codes
from daemon.rpc.server import STOP_GRACE
from tests.harness.processes import CtlResult, System, login_with_etradectl, running_system
from tests.harness.stdio_proxy import StdioProxy, tool_text
from tests.harness.trading import spec

#: A Tuesday morning on the emulator's clock: MARKET orders are accepted in the regular session only.
REGULAR_SESSION = "2026-03-10T11:00:00-04:00"
TRADING = "--no-read-only"
QUIET = {"ETRADE_NOTIFY_CODES": "false"}


@contextmanager
def trading_system(home: Path) -> Iterator[System]:
    with running_system(home, TRADING, env_extra=QUIET, start=REGULAR_SESSION) as system:
        login_with_etradectl(system.env, system.socket)
        yield system


def stop(system: System, how: signal.Signals) -> None:
    """SIGTERM (graceful, 2 s grace: returns at once, see :func:`release_and_wait`) or SIGKILL (gone on return)."""
    if how is signal.SIGKILL:
        system.daemon.kill()
    else:
        system.daemon.popen.send_signal(signal.SIGTERM)


def release_and_wait(system: System, how: signal.Signals) -> None:
    """Let the emulator answer what it holds, then wait for a SIGTERMed daemon to exit (status 0).

    A stopping daemon's process does not exit before its worker thread has E*TRADE's answer to a
    request already sent (bounded by the upstream timeout); releasing first keeps the wait short.
    """
    system.admin("POST", "/holds/release", {})
    if how is signal.SIGTERM:
        assert system.daemon.wait() == 0  # a second SIGTERM would end a stopping daemon at once


def held_routes(system: System) -> list[str]:
    """Blocks until a response is parked at the emulator (bounded), then names the parked routes."""
    return [h["route"] for h in system.admin("GET", "/holds?wait=30", timeout=40)["holds"]]


async def in_flight_then(system: System, call: Any, route: str, how: signal.Signals) -> BrokerError:
    """Start ``call`` (a coroutine), wait until E*TRADE's answer to it is held, stop the daemon with
    ``how``; returns the error the caller got."""
    system.admin("POST", "/faults", {"match": route, "hold": True, "count": 1})
    task = asyncio.ensure_future(call)
    assert await asyncio.to_thread(held_routes, system) == [route]
    await asyncio.to_thread(stop, system, how)
    with pytest.raises(BrokerError) as caught:
        await asyncio.wait_for(task, 60)
    await asyncio.to_thread(release_and_wait, system, how)
    return caught.value


def account_key(system: System) -> str:
    accounts = system.ctl("--json", "accounts").json()["accounts"]
    return str(next(a["account_id_key"] for a in accounts if a["account_mode"] == "MARGIN"))


def code_of(system: System, pending_id: str) -> str:
    listing = system.ctl("--json", "orders", "pending")
    assert listing.code == exit_codes.OK, listing.stderr
    codes = {p["pending"]["pending_id"]: p["confirmation_code"] for p in listing.json()["pending"]}
    return str(codes[pending_id])


# --- reads ------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_a_read_cut_by_the_daemon_stopping_says_ask_again(short_dir: Path, how: signal.Signals) -> None:
    async def scenario(system: System) -> BrokerError:
        async with BrokerClient(system.socket) as client:
            await client.get_status()  # connected, as a client that has been talking to it is
            return await in_flight_then(system, client.get_quotes(["MSFT"]), "quote", how)

    with running_system(short_dir) as system:
        login_with_etradectl(system.env, system.socket)
        mark = system.daemon.mark()
        error = asyncio.run(scenario(system))
        assert error.code is ErrorCode.DAEMON_UNAVAILABLE, repr(error)
        assert "stopped" in error.message and "before this call finished" in error.message
        assert "ask again" in error.hint
        if how is signal.SIGTERM:
            # The grace ran out with the quote still held: the daemon cut it itself, as one line, no traceback.
            system.daemon.wait_for_stderr(r"GetQuotes was still running when the grace period ended", after=mark)
            assert "Traceback" not in system.daemon.stderr_text


CALLERS = 10


async def until_refused(client: BrokerClient) -> BrokerError:
    """Ask for the status until the daemon does not answer (bounded); returns that error."""
    give_up = time.monotonic() + 30
    while time.monotonic() < give_up:
        try:
            await client.get_status()
        except BrokerError as exc:
            return exc
    raise AssertionError("the daemon kept answering new calls after it began to stop")


def test_a_call_arriving_while_the_daemon_stops_is_refused_honestly_and_calls_in_flight_finish(
    short_dir: Path,
) -> None:
    """During the grace the daemon refuses new calls (gRPC answers them CANCELLED, which the client
    called INTERNAL) and the client reconnects elsewhere; the call in flight still gets its answer."""

    async def scenario(system: System) -> None:
        async with BrokerClient(system.socket) as client:
            await client.get_status()
            system.admin("POST", "/faults", {"match": "quote", "hold": True, "count": 1})
            quote = asyncio.ensure_future(client.get_quotes(["MSFT"]))
            assert await asyncio.to_thread(held_routes, system) == ["quote"]
            # Callers keep asking on the same connection while it stops, as fifty proxies do; a request
            # that reaches the daemon after it stopped taking calls is answered CANCELLED by gRPC.
            asking = asyncio.gather(*(until_refused(client) for _ in range(CALLERS)))
            system.daemon.popen.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            refusals = await asking
            assert {e.code for e in refusals} == {ErrorCode.DAEMON_UNAVAILABLE}, refusals
            assert all("ask again" in e.hint or "not running" in e.message for e in refusals), refusals
            # Nobody listens any more: the client gives up its connection, which must not cut the quote.
            with pytest.raises(BrokerError, match="not running"):
                await client.get_status()
            await asyncio.to_thread(system.admin, "POST", "/holds/release", {})
            if time.monotonic() - signalled < STOP_GRACE - 0.5:  # E*TRADE answered within the grace
                answered = await asyncio.wait_for(quote, 30)
                assert [q.symbol for q in answered.quotes] == ["MSFT"]
            else:  # a slow machine took the whole grace to get here: then the daemon cut it, honestly
                with pytest.raises(BrokerError, match="before this call finished"):
                    await asyncio.wait_for(quote, 30)

    with running_system(short_dir) as system:
        login_with_etradectl(system.env, system.socket)
        asyncio.run(scenario(system))
        assert system.daemon.terminate() == 0


# --- orders and cancels -----------------------------------------------------------------------


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_a_place_cut_by_the_daemon_stopping_has_an_unknown_outcome(short_dir: Path, how: signal.Signals) -> None:
    async def scenario(system: System, key: str) -> BrokerError:
        async with BrokerClient(system.socket) as client:
            preview = await client.preview_order(spec(key, "KO", 2))
            pending_id = preview.pending.pending_id
            code = await asyncio.to_thread(code_of, system, pending_id)
            return await in_flight_then(system, client.place_confirmed(pending_id, code), "order_place", how)

    with trading_system(short_dir) as system:
        error = asyncio.run(scenario(system, account_key(system)))
        assert error.code is ErrorCode.ORDER_OUTCOME_UNKNOWN, repr(error)
        assert "may or may not have been sent" in error.message
        assert "do NOT send it again" in error.hint and "etradectl orders journal" in error.hint
        assert len(system.admin("GET", "/orders")["orders"]) == 1  # it did reach E*TRADE


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_a_cancel_cut_by_the_daemon_stopping_has_an_unknown_outcome(short_dir: Path, how: signal.Signals) -> None:
    async def scenario(system: System, key: str) -> BrokerError:
        async with BrokerClient(system.socket) as client:
            # KO at 60, a buy limit at 55: it rests, so it can be cancelled.
            await asyncio.to_thread(system.admin, "POST", "/prices", {"symbol": "KO", "price": 60.0})
            preview = await client.preview_order(spec(key, "KO", 1, price_type="LIMIT", limit_price="55"))
            pending_id = preview.pending.pending_id
            placed = await client.place_confirmed(pending_id, await asyncio.to_thread(code_of, system, pending_id))
            request = await client.request_cancel(key, placed.order_id)
            cancel_id = request.pending.pending_id
            code = await asyncio.to_thread(code_of, system, cancel_id)
            return await in_flight_then(system, client.cancel_confirmed(cancel_id, code), "order_cancel", how)

    with trading_system(short_dir) as system:
        error = asyncio.run(scenario(system, account_key(system)))
        assert error.code is ErrorCode.ORDER_OUTCOME_UNKNOWN, repr(error)
        assert "do NOT send it again" in error.hint


def test_a_send_with_no_daemon_listening_is_certainly_not_sent(short_dir: Path) -> None:
    """The one case where a send may say "not running": the request never left."""

    async def scenario(system: System, key: str) -> BrokerError:
        async with BrokerClient(system.socket) as client:
            preview = await client.preview_order(spec(key, "KO", 2))
            pending_id = preview.pending.pending_id
            code = await asyncio.to_thread(code_of, system, pending_id)
            assert await asyncio.to_thread(system.daemon.terminate) == 0  # gone: nothing listens
            with pytest.raises(BrokerError) as caught:
                await client.place_confirmed(pending_id, code)
            return caught.value

    with trading_system(short_dir) as system:
        error = asyncio.run(scenario(system, account_key(system)))
        assert error.code is ErrorCode.DAEMON_UNAVAILABLE and "not running" in error.message, repr(error)


# --- through etrade-mcp and etradectl ---------------------------------------------------------


def tool_call_in_flight(proxy: StdioProxy, request_id: int, name: str, arguments: dict[str, Any]) -> None:
    proxy.send(
        {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": {"name": name, "arguments": arguments}}
    )


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_etrade_mcp_tells_the_model_to_ask_again_after_a_cut_read(short_dir: Path, how: signal.Signals) -> None:
    with running_system(short_dir) as system:
        login_with_etradectl(system.env, system.socket)
        with StdioProxy(system.env, ["--socket", str(system.socket)]) as proxy:
            proxy.initialize()
            assert not proxy.call_tool("get_stock_quote", {"symbol": "KO"})["result"].get("isError")
            system.admin("POST", "/faults", {"match": "quote", "hold": True, "count": 1})
            tool_call_in_flight(proxy, 900, "get_stock_quote", {"symbol": "MSFT"})
            assert held_routes(system) == ["quote"]
            stop(system, how)
            answer = proxy.response(900)
            release_and_wait(system, how)
            text = tool_text(answer)
            assert answer["result"]["isError"], answer
            assert "DAEMON_UNAVAILABLE" in text and "INTERNAL" not in text, text
            assert "before this call finished" in text and "ask again" in text, text
            assert proxy.close() == 0


def test_etrade_mcp_says_the_outcome_is_unknown_when_the_daemon_dies_during_a_place(short_dir: Path) -> None:
    with trading_system(short_dir) as system:
        key = account_key(system)
        with StdioProxy(system.env, ["--socket", str(system.socket)]) as proxy:
            proxy.initialize()
            preview = proxy.call_tool(
                "preview_order",
                {"account_id_key": key, "symbol": "KO", "order_action": "BUY", "quantity": 2, "price_type": "MARKET"},
            )
            assert not preview["result"].get("isError"), preview
            pending_id = preview["result"]["structuredContent"]["pending_id"]
            code = code_of(system, pending_id)
            system.admin("POST", "/faults", {"match": "order_place", "hold": True, "count": 1})
            tool_call_in_flight(
                proxy, 901, "place_order_confirmed", {"pending_id": pending_id, "confirmation_code": code}
            )
            assert held_routes(system) == ["order_place"]
            stop(system, signal.SIGKILL)
            answer = proxy.response(901)
            release_and_wait(system, signal.SIGKILL)
            text = tool_text(answer)
            assert answer["result"]["isError"], answer
            assert "ORDER_OUTCOME_UNKNOWN" in text and "do NOT send it again" in text, text
            assert "etradectl orders journal" in text, text
            assert proxy.close() == 0


def test_etradectl_confirm_cut_by_sigterm_exits_upstream_with_where_to_look(short_dir: Path) -> None:
    with trading_system(short_dir) as system:
        key = account_key(system)

        async def preview() -> str:
            async with BrokerClient(system.socket) as client:
                return (await client.preview_order(spec(key, "KO", 2))).pending.pending_id

        pending_id = asyncio.run(preview())
        system.admin("POST", "/faults", {"match": "order_place", "hold": True, "count": 1})
        confirming: list[CtlResult] = []
        thread = threading.Thread(
            target=lambda: confirming.append(system.ctl("orders", "confirm", pending_id, "--yes")), daemon=True
        )
        thread.start()
        assert held_routes(system) == ["order_place"]
        stop(system, signal.SIGTERM)
        thread.join(60)
        release_and_wait(system, signal.SIGTERM)
        assert confirming and confirming[0].code == exit_codes.UPSTREAM, confirming
        assert "ORDER_OUTCOME_UNKNOWN" in confirming[0].stderr or "may or may not" in confirming[0].stderr
        assert "etradectl orders journal" in confirming[0].stderr
