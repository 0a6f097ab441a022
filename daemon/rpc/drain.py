"""Stopping with calls in flight: let them finish within a grace period, then end them honestly.

gRPC's own ``server.stop(grace)`` cancels the handlers still running when the grace runs out, and
the client sees a bare status with none of our error codes. :class:`CallTracker` is an interceptor
that knows which handlers are running; :meth:`CallTracker.drain` waits for them (bounded by the
grace) and cuts the rest itself, so each one ends with DAEMON_UNAVAILABLE and a message saying the
daemon stopped during the call. The daemon does not know which calls send orders; the client does,
and turns that into what its caller should do (``broker_client/unfinished.py``): ask again, or, for
a call that may have sent an order or a cancel, check the outcome before anything else.

Invariants: a cut is not a bug, so it is logged as one line at INFO with the method's name, never
with a traceback; :meth:`CallTracker.drain` returns once every tracked handler has ended or ``cut``
more seconds have passed; handlers that end by themselves are never touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

from broker_client.unfinished import stopped_during_call
from daemon.rpc.handlers import Handler, abort_with, rewrap

log = logging.getLogger(__name__)

#: How long handlers that were cut get to send their status before the server's own stop.
CUT_SECONDS = 1.0


class CallTracker(grpc.aio.ServerInterceptor):
    """Track the task of every running handler, so that stopping can wait for them or cut them."""

    def __init__(self) -> None:
        self._running: dict[asyncio.Task[Any], str] = {}
        self._cutting = False
        # One wrapped handler per method, checked against the servicer's (as the version gate does).
        self._wrapped: dict[str, tuple[Handler, Handler]] = {}

    @property
    def in_flight(self) -> int:
        return len(self._running)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        method = handler_call_details.method
        cached = self._wrapped.get(method)
        if cached is None or cached[0] is not handler:
            cached = self._wrapped[method] = (handler, self._wrap(handler, method))
        return cached[1]

    def _wrap(self, handler: Handler, method: str) -> Handler:
        def unary(behavior: Any) -> Any:
            async def wrapped(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
                async with self._tracked(method, context):
                    return await behavior(request, context)

            return wrapped

        def streaming(behavior: Any) -> Any:
            if not inspect.isasyncgenfunction(behavior):
                return unary(behavior)  # a coroutine that writes with context.write()

            async def generator(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
                async with self._tracked(method, context):
                    async for item in behavior(request, context):
                        yield item

            return generator

        return rewrap(handler, unary, streaming)

    @contextlib.asynccontextmanager
    async def _tracked(self, method: str, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[None]:
        """The handler's task is known to :meth:`drain` while the block runs; cut by it, it ends with our status."""
        task = asyncio.current_task()
        assert task is not None  # gRPC runs every handler in a task of its own
        self._running[task] = method
        try:
            yield
        except asyncio.CancelledError:
            await self._on_cancel(context, method)
            raise
        finally:
            self._running.pop(task, None)

    async def _on_cancel(self, context: grpc.aio.ServicerContext[Any, Any], method: str) -> None:
        """A handler cut by :meth:`drain` ends with our status; any other cancellation (the client
        went away, gRPC's own stop) is left alone."""
        if not self._cutting:
            return
        log.info("server: %s was still running when the grace period ended; it was told the daemon stopped", method)
        await abort_with(context, stopped_during_call())

    async def drain(self, grace: float, cut: float = CUT_SECONDS) -> None:
        """Wait up to ``grace`` seconds for the running handlers, then cut those left (``cut``
        seconds more for them to send their status). Call after the server stopped taking calls."""
        running = set(self._running)
        if running:
            log.info("server: waiting up to %g s for %d call(s) in flight", grace, len(running))
            await asyncio.wait(running, timeout=grace)
        left = [task for task in self._running if not task.done()]
        if not left:
            return
        self._cutting = True
        for task in left:
            task.cancel()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait(left, timeout=cut)
