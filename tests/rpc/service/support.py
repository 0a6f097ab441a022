"""Helpers for the service tests: an in-process daemon with a chosen API version."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from daemon.app import BrokerApp
from emulator import Emulator
from tests.harness.daemons import RunningDaemon, running_daemon


@asynccontextmanager
async def daemon_speaking(emulator: Emulator, directory: Path, api_version: str) -> AsyncIterator[RunningDaemon]:
    """A real daemon (grpc.aio on a unix socket, against the emulator) that announces ``api_version``."""
    socket = directory / f"v{api_version}" / "broker.sock"

    def announcing(app: BrokerApp) -> BrokerApp:
        return dataclasses.replace(app, api_version=api_version)

    async with running_daemon(emulator, socket, prepare=announcing) as running:
        yield running
