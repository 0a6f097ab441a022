"""The session as MCP clients see it: the etrade://session/status resource, and tool errors with the fix."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from mcp_proxy.resources import SESSION_STATUS_URI
from mcp_proxy.server import DaemonLink, build_server
from tests.harness.daemons import RunningDaemon, login

pytestmark = pytest.mark.anyio


@pytest.fixture
async def mcp(daemon: RunningDaemon) -> AsyncIterator[Client]:
    link = DaemonLink(daemon.socket)
    async with Client(build_server(link)) as client:
        yield client
    await link.close()


async def read_status(client: Client) -> dict[str, Any]:
    result = await client.read_resource(SESSION_STATUS_URI)
    [content] = result.contents
    assert content.mime_type == "application/json"
    document: dict[str, Any] = json.loads(content.text)  # type: ignore[union-attr]
    return document


def text_of(result: Any) -> str:
    return " ".join(getattr(block, "text", "") for block in result.content)


async def test_the_status_resource_is_listed_with_a_description_and_mime_type(mcp: Client) -> None:
    resources = {str(r.uri): r for r in (await mcp.list_resources()).resources}
    status = resources[SESSION_STATUS_URI]
    assert status.mime_type == "application/json"
    assert status.description and "fix_command" in status.description and "midnight US Eastern" in status.description


async def test_the_status_resource_follows_the_session_through_the_day(daemon: RunningDaemon, mcp: Client) -> None:
    emulator = daemon.emulator
    emulator.clock.set(datetime.fromisoformat("2026-03-10T21:00:00-04:00"))
    emulator.clock.freeze()
    before = await read_status(mcp)
    assert before["state"] == "NEEDS_LOGIN"
    assert before["usable"] is False
    assert before["fix_command"] == "etradectl auth login"

    async with daemon.client() as broker:
        await login(broker)
    active = await read_status(mcp)
    assert active["state"] == "ACTIVE" and active["usable"] is True
    assert active["fix_command"] is None
    assert active["expires_at_et"] == "2026-03-11T00:00:00-04:00"
    assert active["expires_in_seconds"] == 3 * 3600
    assert active["next_renewal_et"] == "2026-03-10T22:30:00-04:00"

    emulator.clock.set(datetime.fromisoformat("2026-03-11T00:00:01-04:00"))
    expired = await read_status(mcp)
    assert expired["state"] == "EXPIRED"
    assert expired["fix_command"] == "etradectl auth login"
    assert "midnight US Eastern" in expired["detail"]

    # Tools answer with the state and the exact command that fixes it.
    result = await mcp.call_tool("get_stock_quote", {"symbol": "AAPL"})
    assert result.is_error
    text = text_of(result)
    assert "expired at midnight US Eastern" in text
    assert "etradectl auth login" in text
    assert "[SESSION_EXPIRED]" in text


async def test_the_status_resource_explains_a_stopped_daemon(short_dir: Path) -> None:
    link = DaemonLink(short_dir / "nobody.sock")
    async with Client(build_server(link)) as client:
        document = await read_status(client)
    await link.close()
    assert document["state"] == "DAEMON_UNAVAILABLE"
    assert document["usable"] is False
    assert "not running" in document["detail"]
    assert "etrade-daemon" in document["next_step"]
