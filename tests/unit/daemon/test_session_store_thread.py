"""Secret-store I/O runs on the session's own thread, never on the HTTP worker pool: a slow or
prompting OS keyring cannot starve E*TRADE requests."""

from __future__ import annotations

import threading

import pytest

from daemon.clock import SystemClock
from daemon.etrade.upstream import Endpoints, EtradeHttp, Upstream
from daemon.secret_store import ACCESS_TOKEN, MemorySecretStore
from daemon.session import SessionManager, SessionState
from daemon.session.credentials import THREAD_NAME

pytestmark = pytest.mark.anyio

KEY = "0123456789abcdef0123456789abcdef"
SECRET = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"


class ThreadRecordingStore(MemorySecretStore):
    """A memory store that notes which thread each read, write and delete ran on."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: list[str] = []

    def get(self, name: str) -> str | None:
        self.threads.append(threading.current_thread().name)
        return super().get(name)

    def set(self, name: str, value: str) -> None:
        self.threads.append(threading.current_thread().name)
        super().set(name, value)

    def delete(self, name: str) -> None:
        self.threads.append(threading.current_thread().name)
        super().delete(name)


async def test_the_secret_store_is_used_off_the_http_pool() -> None:
    # Loopback addresses that are never contacted: load, credentials and logout without a token
    # make no HTTP request.
    endpoints = Endpoints("http://127.0.0.1:9", "http://127.0.0.1:9", "http://127.0.0.1:9/authorize")
    upstream = Upstream(EtradeHttp(endpoints, timeout=1.0))
    store = ThreadRecordingStore()
    store.set(ACCESS_TOKEN, "stale-without-secret")
    store.threads.clear()
    session = SessionManager(upstream=upstream, store=store, clock=SystemClock())
    try:
        await session.load()
        await session.set_credentials(KEY, SECRET)
        assert session.state is SessionState.NEEDS_LOGIN
        await session.logout(forget_credentials=True)
    finally:
        upstream.close()
    assert store.threads, "the session read and wrote the store"
    assert all(name.startswith(THREAD_NAME) for name in store.threads), store.threads
    assert not any(name.startswith("etrade-http") for name in store.threads)
