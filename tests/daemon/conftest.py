"""Fixtures for the daemon's order tests: an emulator in a regular session and a trading daemon."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from emulator import Emulator
from tests.trading import Trader, session_emulator, trading_daemon


@pytest.fixture
def session_emu() -> Iterator[Emulator]:
    with session_emulator() as emu:
        yield emu


@pytest.fixture
async def trader(session_emu: Emulator, short_dir: Path) -> AsyncIterator[Trader]:
    """A logged-in trading daemon (ETRADE_READ_ONLY=false) on an emulator frozen in a session."""
    async with trading_daemon(session_emu, short_dir) as running:
        yield running
