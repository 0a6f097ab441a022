"""Fixtures: a real emulator over loopback HTTP, a real daemon on a unix socket, real clients."""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from broker_client.client import BrokerClient
from daemon.app import BrokerApp, build_app
from daemon.etrade.emulator_clock import EmulatorClock
from daemon.rpc.server import InstanceLock, start_server
from daemon.secret_store import MemorySecretStore
from daemon.settings import Settings
from emulator import Emulator
from tests.support import read_verifier, short_tmp_dir


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # grpc.aio needs asyncio


@pytest.fixture(autouse=True)
def private_state(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test writes journals, audit logs or secrets into the real home: state goes to a temporary
    directory of its own (not the test's tmp_path, which some tests inspect)."""
    state = tmp_path_factory.mktemp("xdg-state")
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    monkeypatch.delenv("ETRADE_MCP_STATE_DIR", raising=False)
    return state


@pytest.fixture
def short_dir() -> Iterator[Path]:
    with short_tmp_dir() as path:
        yield path


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(seed=7, port=0, latency_ms=(0, 0), rate_limits=None) as emu:
        yield emu


@dataclass
class RunningDaemon:
    app: BrokerApp
    socket: Path
    emulator: Emulator
    store: MemorySecretStore

    def client(self, **kwargs: object) -> BrokerClient:
        return BrokerClient(self.socket, client_name="tests", **kwargs)  # type: ignore[arg-type]


def daemon_settings(emulator: Emulator, **overrides: object) -> Settings:
    """Settings of a test daemon; each gets its own state directory (journal, audit log) unless given."""
    state = Path(tempfile.mkdtemp(prefix="daemon-", dir=os.environ.get("XDG_STATE_HOME")))
    values: dict[str, object] = {
        "environment": "emulator",
        "emulator_url": emulator.base_url,
        "desktop_notifications": False,
        "state_dir": state,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
async def daemon(emulator: Emulator, short_dir: Path) -> AsyncIterator[RunningDaemon]:
    """An in-process daemon (real grpc.aio server on a unix socket) talking to the emulator.

    It reasons on the emulator's clock, as the emulator environment does. Its timers are not
    started: tests drive the session jobs (``app.keeper``) themselves after moving the clock.
    """
    store = MemorySecretStore()
    app = await build_app(daemon_settings(emulator), clock=EmulatorClock(emulator.clock), store=store)
    socket = short_dir / "run" / "broker.sock"
    server, lock = await start_server(app, socket)
    try:
        yield RunningDaemon(app=app, socket=socket, emulator=emulator, store=store)
    finally:
        await server.stop(grace=None)
        await app.close()
        lock.release()


async def login(client: BrokerClient) -> None:
    """The real OAuth exchange: request token, the authorize page's verifier, access token."""
    begin = await client.begin_login()
    verifier = read_verifier(begin.authorize_url)
    await client.complete_login(verifier)


@pytest.fixture
async def broker(daemon: RunningDaemon) -> AsyncIterator[BrokerClient]:
    """A client of a daemon that is logged in to the emulator."""
    async with daemon.client() as client:
        await login(client)
        yield client


__all__ = ["InstanceLock", "RunningDaemon", "login"]
