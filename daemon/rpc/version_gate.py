"""The daemon's half of the API version handshake (see :mod:`broker_client.api_version`).

A server interceptor that, for every call:

- sends the daemon's API version in the initial metadata (``x-etrade-api-version``), so a client
  learns it from its first answer without an extra round trip — unless the client's request names
  that very version as the one it knows (``x-etrade-daemon-api-version``); then the call runs
  with the servicer's own handler, untouched;
- refuses a call whose client declared another MAJOR version, before the handler runs, with
  FAILED_PRECONDITION and the API_VERSION_MISMATCH code (the client shows the fix). Callers that
  declare nothing (a generic health probe, grpcurl) are served.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

from broker_client import api_version
from broker_client.errors import BrokerError
from broker_client.metadata_keys import API_VERSION_KEY, KNOWN_API_VERSION_KEY
from daemon.rpc.handlers import Handler, abort_with, rewrap

log = logging.getLogger(__name__)


def _declared_versions(details: grpc.HandlerCallDetails) -> tuple[str | None, str | None]:
    """The client's own API version and the daemon's as the client knows it (None: not declared)."""
    client: str | None = None
    known: str | None = None
    for key, value in details.invocation_metadata or ():
        if key == API_VERSION_KEY and isinstance(value, str):
            client = value
        elif key == KNOWN_API_VERSION_KEY and isinstance(value, str):
            known = value
    return client, known


#: Distinct client versions whose verdict is remembered; there are only a few in practice.
_VERDICTS_KEPT = 32


class VersionGate(grpc.aio.ServerInterceptor):
    """Announce the daemon's API version on every answer; refuse clients of another MAJOR."""

    def __init__(self, daemon_version: str) -> None:
        self.daemon_version = daemon_version
        self._metadata = ((API_VERSION_KEY, daemon_version),)
        # Per call these would be rebuilt identically: the verdict on a client version, and the
        # announcing handler of a method (keyed by method, checked against the servicer's handler).
        self._refuses: dict[str, bool] = {}
        self._announcing: dict[str, tuple[Handler, Handler]] = {}

    def _refuses_version(self, client: str) -> bool:
        refuses = self._refuses.get(client)
        if refuses is None:
            refuses = api_version.compare(client, self.daemon_version) in (
                api_version.Compatibility.MAJOR_DIFFERS,
                api_version.Compatibility.UNREADABLE,
            )
            if len(self._refuses) < _VERDICTS_KEPT:
                self._refuses[client] = refuses
        return refuses

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        client, known = _declared_versions(handler_call_details)
        if client is not None and self._refuses_version(client):
            log.warning(
                "version: refused %s from a client speaking API %s (daemon %s)",
                handler_call_details.method,
                client,
                self.daemon_version,
            )
            return self._wrap(handler, api_version.mismatch_error(client, self.daemon_version))
        if known == self.daemon_version:
            return handler  # the client knows; nothing to add to the call
        method = handler_call_details.method
        cached = self._announcing.get(method)
        if cached is None or cached[0] is not handler:
            cached = self._announcing[method] = (handler, self._wrap(handler, None))
        return cached[1]

    def _wrap(self, handler: Handler, refusal: BrokerError | None) -> Handler:
        metadata = self._metadata

        async def prologue(context: grpc.aio.ServicerContext[Any, Any]) -> None:
            await context.send_initial_metadata(metadata)
            if refusal is not None:
                await abort_with(context, refusal)

        def unary(behavior: Any) -> Any:
            async def wrapped(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
                await prologue(context)
                return await behavior(request, context)

            return wrapped

        def streaming(behavior: Any) -> Any:
            if inspect.isasyncgenfunction(behavior):

                async def generator(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
                    await prologue(context)
                    async for item in behavior(request, context):
                        yield item

                return generator
            return unary(behavior)  # a coroutine that writes with context.write()

        return rewrap(handler, unary, streaming)
