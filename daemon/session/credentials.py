"""The session's secrets in the secret store: the consumer key and secret, the access token.

Keyring calls can block (an OS keyring may prompt, or a D-Bus service may be slow to start), so
they run on this module's own single thread, never on the HTTP worker pool: a stuck keyring cannot
starve E*TRADE requests, and writes stay in the order they were made. Nothing here logs a secret.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from broker_client.errors import BrokerError
from daemon import secret_store as names
from daemon.etrade.upstream import AccessToken
from daemon.secret_store import SecretStore

log = logging.getLogger(__name__)

T = TypeVar("T")

THREAD_NAME = "secret-store"


class CredentialVault:
    """The session's view of the secret store (``None``: no store could be opened; ``problem`` says why)."""

    def __init__(self, store: SecretStore | None, problem: str | None = None) -> None:
        self.store = store
        self.problem = problem
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=THREAD_NAME)

    @property
    def description(self) -> str:
        if self.store is not None:
            return self.store.description
        return f"none: {self.problem}" if self.problem else "none"

    async def _run(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def read_all(self) -> dict[str, str | None]:
        """Everything the session keeps; an unreadable store is remembered as ``problem`` (and reads empty)."""
        store = self.store
        if store is None:
            return {}
        try:
            return await self._run(lambda: {name: store.get(name) for name in names.ALL_NAMES})
        except BrokerError as exc:
            self.problem = exc.message
            return {}

    async def write_consumer(self, store: SecretStore, key: str, secret: str) -> None:
        def write() -> None:
            store.set(names.CONSUMER_KEY, key)
            store.set(names.CONSUMER_SECRET, secret)

        await self._run(write)

    async def save_access(self, access: AccessToken) -> None:
        store = self.store
        if store is None:
            return

        def write() -> None:
            store.set(names.ACCESS_TOKEN, access.token)
            store.set(names.ACCESS_TOKEN_SECRET, access.secret)
            store.set(names.ACCESS_TOKEN_ISSUED_AT, str(access.issued_at_ms))

        try:
            await self._run(write)
        except BrokerError as exc:
            log.warning("session: could not save the access token (%s); it lasts until the daemon stops", exc.message)

    async def delete_token(self, *, keep_issued: bool) -> None:
        """Delete a token that can no longer work. ``keep_issued`` remembers that a session existed,
        so a restart after midnight reports EXPIRED rather than "never logged in"."""
        store = self.store
        if store is None:
            return
        doomed = [names.ACCESS_TOKEN, names.ACCESS_TOKEN_SECRET]
        if not keep_issued:
            doomed.append(names.ACCESS_TOKEN_ISSUED_AT)

        def delete() -> None:
            for name in doomed:
                store.delete(name)

        try:
            await self._run(delete)
        except BrokerError as exc:
            log.warning("session: could not delete the dead token from the secret store (%s)", exc.message)

    async def delete_credentials(self) -> None:
        store = self.store
        if store is None:
            return

        def delete() -> None:
            store.delete(names.CONSUMER_KEY)
            store.delete(names.CONSUMER_SECRET)

        try:
            await self._run(delete)
            log.info("credentials: deleted the consumer key and secret from %s", store.description)
        except BrokerError as exc:
            log.warning("credentials: could not delete the consumer credentials (%s)", exc.message)
