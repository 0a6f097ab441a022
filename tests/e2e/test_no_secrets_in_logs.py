"""No secret ever reaches a log: full session flows with every logger of the daemon's process at DEBUG.

The daemon runs in this process with all loggers at DEBUG (ours, grpc, apscheduler, urllib3,
requests, rauth, oauthlib, asyncio); the emulator runs as its own process, so its server-side
oauthlib (which logs signature base strings at DEBUG) is not part of what is checked here. The
subprocess daemon at ``--log-level DEBUG`` is checked by tests/e2e/test_session_day.py.
"""

from __future__ import annotations

import logging
import re
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from broker_client.client import BrokerClient
from broker_client.errors import BrokerError
from daemon.app import build_app
from daemon.etrade.emulator_clock import RemoteEmulatorClock
from daemon.rpc.server import start_server
from daemon.secret_store import ACCESS_TOKEN, ACCESS_TOKEN_SECRET, MemorySecretStore
from daemon.settings import Settings
from emulator import DEFAULT_CONSUMER_KEY, DEFAULT_CONSUMER_SECRET
from tests.harness.processes import Proc, child_env, read_verifier, start_emulator
from tests.harness.support import admin

pytestmark = pytest.mark.anyio

NAMED = (
    "",
    "daemon",
    "broker_client",
    "grpc",
    "apscheduler",
    "urllib3",
    "requests",
    "rauth",
    "oauthlib",
    "requests_oauthlib",
    "asyncio",
)


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def everything_at_debug() -> Iterator[Capture]:
    capture = Capture()
    manager = logging.root.manager
    names = set(NAMED) | {name for name in manager.loggerDict if isinstance(manager.loggerDict[name], logging.Logger)}
    previous = {name: logging.getLogger(name).level for name in names}
    for name in names:
        logging.getLogger(name).setLevel(logging.DEBUG)
    logging.root.addHandler(capture)
    try:
        yield capture
    finally:
        logging.root.removeHandler(capture)
        for name, level in previous.items():
            logging.getLogger(name).setLevel(level)


@pytest.fixture
def emulator_process(short_dir: Path) -> Iterator[str]:
    proc: Proc
    proc, url = start_emulator(
        child_env(short_dir), "--latency-ms", "0", "--no-rate-limits", "--start", "2026-03-10T10:00:00-04:00"
    )
    try:
        yield url
    finally:
        proc.kill()


async def test_full_flows_at_debug_log_no_secret(
    everything_at_debug: Capture, emulator_process: str, short_dir: Path
) -> None:
    url = emulator_process
    store = MemorySecretStore()
    settings = Settings(
        environment="emulator", emulator_url=url, state_dir=short_dir / "state", desktop_notifications=False
    )
    app = await build_app(settings, store=store)
    clock = app.clock
    assert isinstance(clock, RemoteEmulatorClock)
    server, lock = await start_server(app, short_dir / "run" / "broker.sock")
    secrets: list[str] = [DEFAULT_CONSUMER_SECRET]

    def move(body: dict[str, object]) -> None:
        admin(url, "clock", body)
        assert clock.refresh()

    async def log_in(client: BrokerClient) -> None:
        begin = await client.begin_login()
        verifier = read_verifier(begin.authorize_url)
        match = re.search(r"token=([^&]+)", begin.authorize_url)
        assert match is not None
        secrets.extend([verifier, urllib.parse.unquote(match.group(1))])
        await client.complete_login(verifier)
        secrets.extend([str(store.get(ACCESS_TOKEN)), str(store.get(ACCESS_TOKEN_SECRET))])

    try:
        async with BrokerClient(short_dir / "run" / "broker.sock") as client:
            await client.set_credentials(DEFAULT_CONSUMER_KEY, DEFAULT_CONSUMER_SECRET)
            begin = await client.begin_login()
            with pytest.raises(BrokerError):
                await client.complete_login("WRONG1")  # a refused verifier on the way
            verifier = read_verifier(begin.authorize_url)
            await client.complete_login(verifier)
            request_token = re.search(r"token=([^&]+)", begin.authorize_url)
            assert request_token is not None
            secrets.extend([verifier, urllib.parse.unquote(request_token.group(1))])
            secrets.extend([str(store.get(ACCESS_TOKEN)), str(store.get(ACCESS_TOKEN_SECRET))])
            await log_in(client)  # again while ACTIVE
            await client.get_quotes(["AAPL", "MSFT"])
            await client.list_accounts()

            move({"advance_seconds": 95 * 60})  # the renewal job, verified
            assert await app.keeper.renew_if_idle()
            move({"advance_seconds": 2 * 3600 + 600})  # idle: the next call renews on demand
            await client.get_quotes(["AAPL"])
            await client.get_status()

            move({"set": "2026-03-11T00:00:10-04:00"})  # midnight US Eastern
            assert await app.keeper.expire_at_midnight()
            with pytest.raises(BrokerError):
                await client.get_quotes(["AAPL"])

            move({"set": "2026-03-11T09:00:00-04:00"})
            await app.keeper.remind_to_log_in()
            await log_in(client)
            await client.logout(forget_credentials=True)
    finally:
        await server.stop(None)
        await app.close()
        lock.release()

    text = "\n".join(everything_at_debug.lines)
    assert "session: NEEDS_LOGIN -> ACTIVE" in text and "renewal was verified" in text
    assert any(line.startswith("urllib3") for line in everything_at_debug.lines)  # DEBUG really was on
    assert len(set(secrets)) == len(secrets) == 1 + 3 * 4
    assert [secret for secret in secrets if secret in text] == []
