"""Fixtures of the in-process layer: an emulator frozen in a regular session and a logged-in trading
daemon on it (tests.harness.trading), for the order tests of the daemon and of the proxy."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from emulator import Emulator
from tests.harness.trading import Trader, session_emulator, trading_daemon


@pytest.fixture
def session_emu() -> Iterator[Emulator]:
    with session_emulator() as emu:
        yield emu


@pytest.fixture
async def trader(session_emu: Emulator, short_dir: Path) -> AsyncIterator[Trader]:
    """A logged-in trading daemon (ETRADE_READ_ONLY=false) on an emulator frozen in a session."""
    async with trading_daemon(session_emu, short_dir) as running:
        yield running
