"""Helpers for the service tests: an in-process daemon with a chosen API version."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from daemon.app import build_app
from daemon.rpc.server import start_server
from daemon.secret_store import MemorySecretStore
from emulator import Emulator
from tests.conftest import RunningDaemon, daemon_settings


@asynccontextmanager
async def daemon_speaking(emulator: Emulator, directory: Path, api_version: str) -> AsyncIterator[RunningDaemon]:
    """A real daemon (grpc.aio on a unix socket, against the emulator) that announces ``api_version``."""
    store = MemorySecretStore()
    app = dataclasses.replace(await build_app(daemon_settings(emulator), store=store), api_version=api_version)
    socket = directory / f"v{api_version}" / "broker.sock"
    server, lock = await start_server(app, socket)
    try:
        yield RunningDaemon(app=app, socket=socket, emulator=emulator, store=store)
    finally:
        await server.stop(grace=None)
        await app.close()
        lock.release()
