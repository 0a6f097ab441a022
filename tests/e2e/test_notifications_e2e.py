"""Notifications with the real processes: channels from ETRADE_NOTIFICATION_CHANNELS, a URL stored through
`etradectl notify store` on stdin, a pending order's code on the trusted channel only, and the daemon's
own log (DEBUG) holding neither a channel URL nor a code."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from broker_client.client import BrokerClient
from emulator.local_system import ROOT
from tests.notify_receiver import receiver
from tests.processes import System, login_with_etradectl, running_system
from tests.trading import spec

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

REGULAR_SESSION = "2026-03-10T11:00:00-04:00"
CHANNELS = [
    {"name": "trusted", "trusted_for_codes": True, "events": ["order_pending"]},
    {"name": "plain", "events": ["order_pending", "order_placed"]},
]


def store(system: System, channel: str, url: str) -> subprocess.CompletedProcess[str]:
    """`etradectl notify store` with the URL on stdin, as a script would pipe it."""
    return subprocess.run(
        [sys.executable, "-m", "cli", "--socket", str(system.socket), "notify", "store", channel],
        env=system.env,
        cwd=ROOT,
        input=url + "\n",
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_a_code_reaches_the_trusted_channel_and_the_daemons_log_holds_no_url_or_code(short_dir: Path) -> None:
    env = {
        "ETRADE_NOTIFY_CODES": "false",
        "ETRADE_LOG_LEVEL": "DEBUG",
        "ETRADE_NOTIFICATION_CHANNELS": json.dumps(CHANNELS),
    }
    with (
        receiver() as rx,
        running_system(short_dir, "--no-read-only", env_extra=env, start=REGULAR_SESSION) as system,
    ):
        trusted_url = rx.url("json", "trusted-e2e-token-111")
        plain_url = rx.url("form", "plain-e2e-token-222")
        for name, url in (("trusted", trusted_url), ("plain", plain_url)):
            stored = await asyncio.to_thread(store, system, name, url)
            assert stored.returncode == 0, stored.stderr
        listing = system.ctl("notify", "list")
        assert listing.code == 0 and "json://****" in listing.stdout and "form://****" in listing.stdout
        login_with_etradectl(system.env, system.socket)
        key = next(
            a["account_id_key"]
            for a in system.ctl("--json", "accounts").json()["accounts"]
            if a["account_mode"] == "MARGIN"
        )
        async with BrokerClient(system.socket, client_name="etrade-mcp/e2e") as model:
            preview = await model.preview_order(spec(key, "KO", 2, price_type="LIMIT", limit_price="90"))
        pending_id = preview.pending.pending_id
        listed = system.ctl("--json", "orders", "pending").json()["pending"]
        code = next(p["confirmation_code"] for p in listed if p["pending"]["pending_id"] == pending_id)
        got = {r.path: r.body.decode() for r in [await asyncio.to_thread(rx.next), await asyncio.to_thread(rx.next)]}
        confirmed = system.ctl("orders", "confirm", pending_id, "--yes")
        assert confirmed.code == 0, confirmed.stderr
        placed = await asyncio.to_thread(rx.next)
        system.daemon.terminate()
        log = system.daemon.stderr_text
    assert f"Code: {code}" in json.loads(got["/trusted-e2e-token-111"])["message"]
    assert code not in got["/plain-e2e-token-222"] and code.replace("-", "") not in got["/plain-e2e-token-222"]
    assert "placed" in placed.body.decode() and placed.path == "/plain-e2e-token-222"
    assert "notifications" in log and "DEBUG" in log  # the daemon did log, verbosely
    for secret in ("trusted-e2e-token-111", "plain-e2e-token-222", code, code.replace("-", "")):
        assert secret not in log
