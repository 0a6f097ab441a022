"""The proxy's one connection to the daemon (:class:`DaemonLink`).

Lowest layer of mcp_proxy/ (``lint-imports`` checks it): it imports broker_client/ and the MCP SDK's
request context only, never a tool, resource or prompt module, so everything else may depend on
it and the server composes them.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

import anyio
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from broker_client import VERSION

if TYPE_CHECKING:
    from mcp.server.context import CallNext, HandlerResult, ServerRequestContext

    from broker_client.client import BrokerClient

log = logging.getLogger(__name__)


#: How long the background handshake may take before the first request stops waiting for it
#: (the request then makes its own call, with its own deadline and error).
CONNECT_TIMEOUT = 5.0
#: Requests that never need the daemon, so never wait for the connection.
WITHOUT_DAEMON = frozenset({"initialize", "ping"})


class DaemonLink:
    """The proxy's one connection to the daemon.

    :meth:`connect` imports the client (grpc and the generated code: ~100 ms) on a worker thread,
    opens the channel and runs the API version handshake. The lifespan starts it once
    ``initialize`` has been answered, so the handshake never waits for it; :meth:`middleware`
    makes every other request wait until it is done (it starts it if nothing has yet), so that
    :meth:`client` never imports on the event loop's time in the proxy.
    """

    def __init__(self, socket_path: str | os.PathLike[str] | None = None) -> None:
        self.socket_path = socket_path
        self._client: BrokerClient | None = None
        self._connected = False
        self._connecting: anyio.Lock | None = None

    def is_connected(self) -> bool:
        """Whether :meth:`connect` has run (whatever its outcome)."""
        return self._connected

    async def connect(self) -> None:
        """Import, connect and shake hands, once; failures are left for the real calls to report."""
        if self._connected:
            return
        if self._connecting is None:
            self._connecting = anyio.Lock()
        async with self._connecting:
            if self.is_connected():  # another request connected while this one waited
                return
            try:
                # On a worker thread, so the loop keeps serving; client() then finds it imported.
                await anyio.to_thread.run_sync(_import_client)
                from broker_client.errors import BrokerError

                try:
                    await self.client().get_status(timeout=CONNECT_TIMEOUT)
                except BrokerError as exc:
                    log.info("daemon: not connected yet (%s); the first call will say why", exc.code.value)
            finally:
                self._connected = True

    async def middleware(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        """Server middleware: requests that may reach the daemon wait for :meth:`connect`."""
        before_handshake = ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS and ctx.session.client_params is None
        if ctx.request_id is not None and ctx.method not in WITHOUT_DAEMON and not before_handshake:
            await self.connect()
        return await call_next(ctx)

    async def connect_after_handshake(self, answered: anyio.Event) -> None:
        """Connect in the background once the client's first request (``initialize``) is answered."""
        await answered.wait()
        await self.connect()

    def client(self) -> BrokerClient:
        if self._client is None:
            from broker_client.client import BrokerClient

            self._client = BrokerClient(self.socket_path, client_name=f"etrade-mcp/{VERSION}")
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None


def _import_client() -> type[BrokerClient]:
    from broker_client.client import BrokerClient

    return BrokerClient
