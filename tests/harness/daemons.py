"""The one in-process daemon of the test suite: a real grpc.aio server on a unix socket, talking to
an in-process emulator over loopback HTTP, with an in-memory secret store.

The ``daemon`` fixture (tests/conftest.py), the trading daemon (trading.py) and the daemons that
announce another API version (tests/rpc/service/support.py) all start it through ``running_daemon``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from broker_client.client import BrokerClient
from daemon.app import BrokerApp, build_app
from daemon.clock import Clock
from daemon.gateway.deadline import REAL_TIME, TimeSource
from daemon.rpc.server import start_server
from daemon.secret_store import MemorySecretStore
from daemon.settings import Settings
from emulator import Emulator
from tests.harness.support import read_verifier


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


@asynccontextmanager
async def running_daemon(
    emulator: Emulator,
    socket: Path,
    *,
    settings: Settings | None = None,
    clock: Clock | None = None,
    prepare: Callable[[BrokerApp], BrokerApp] | None = None,
    time_source: TimeSource = REAL_TIME,
) -> AsyncIterator[RunningDaemon]:
    """A daemon serving ``socket`` until the block ends; ``prepare`` may replace the built app (e.g. its
    announced API version) before it serves. Its timers are not started: tests drive the jobs.
    ``time_source``: what its rate limiter waits on (see ``build_app``)."""
    store = MemorySecretStore()
    app = await build_app(settings or daemon_settings(emulator), clock=clock, store=store, time_source=time_source)
    if prepare is not None:
        app = prepare(app)
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
