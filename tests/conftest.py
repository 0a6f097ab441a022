"""Fixtures every layer may use: private state, a short directory for sockets, a real emulator over
loopback HTTP, a real daemon on a unix socket (tests.harness.daemons) and a logged-in client.

Each test gets the marker of its layer, the folder under tests/ it lives in (see tests/__init__.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from broker_client.client import BrokerClient
from daemon.etrade.emulator_clock import EmulatorClock
from emulator import Emulator
from tests.harness.daemons import RunningDaemon, login, running_daemon
from tests.harness.support import short_tmp_dir

TESTS = Path(__file__).resolve().parent
LAYERS = ("unit", "rpc", "e2e", "emulator", "system")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        layer = item.path.resolve().relative_to(TESTS).parts[0]
        if layer in LAYERS:
            item.add_marker(layer)


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


@pytest.fixture
async def daemon(emulator: Emulator, short_dir: Path) -> AsyncIterator[RunningDaemon]:
    """An in-process daemon (real grpc.aio server on a unix socket) talking to the emulator.

    It reasons on the emulator's clock, as the emulator environment does. Its timers are not
    started: tests drive the session jobs (``app.keeper``) themselves after moving the clock.
    """
    socket = short_dir / "run" / "broker.sock"
    async with running_daemon(emulator, socket, clock=EmulatorClock(emulator.clock)) as running:
        yield running


@pytest.fixture
async def broker(daemon: RunningDaemon) -> AsyncIterator[BrokerClient]:
    """A client of a daemon that is logged in to the emulator."""
    async with daemon.client() as client:
        await login(client)
        yield client
