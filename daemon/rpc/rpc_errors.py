"""Domain errors → gRPC status + trailing metadata, for every servicer method (the daemon's half).

The wire form (status by kind, the trailing metadata keys) lives in ``broker_client/error_wire.py``
beside the reader that rebuilds the exception in the client.
Unexpected exceptions are logged with their traceback and become INTERNAL with a generic message:
internals never reach a client.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc

from broker_client.errors import BrokerError, ErrorCode, InternalError
from daemon.rpc.handlers import abort_with

log = logging.getLogger(__name__)

Req = TypeVar("Req")
Resp = TypeVar("Resp")
Handler = Callable[[Any, Req, grpc.aio.ServicerContext[Req, Resp]], Awaitable[Resp]]


def translate_errors(method: Handler[Req, Resp]) -> Handler[Req, Resp]:
    """Decorate an async servicer method so BrokerErrors become statuses with our metadata."""

    @functools.wraps(method)
    async def wrapper(self: Any, request: Req, context: grpc.aio.ServicerContext[Req, Resp]) -> Resp:
        try:
            return await method(self, request, context)
        except BrokerError as exc:
            log.info("%s: %s %s", method.__name__, exc.code.value, exc.message)
            error: BrokerError = exc
        except Exception:
            log.exception("%s failed unexpectedly", method.__name__)
            error = InternalError(ErrorCode.INTERNAL, "the daemon hit an internal error; its log has the details")
        await abort_with(context, error)

    return wrapper


StreamHandler = Callable[[Any, Req, grpc.aio.ServicerContext[Req, Resp]], AsyncIterator[Resp]]


def translate_stream_errors(method: StreamHandler[Req, Resp]) -> StreamHandler[Req, Resp]:
    """:func:`translate_errors` for server-streaming methods (async generators)."""

    @functools.wraps(method)
    async def wrapper(self: Any, request: Req, context: grpc.aio.ServicerContext[Req, Resp]) -> AsyncIterator[Resp]:
        try:
            async for item in method(self, request, context):
                yield item
            return
        except BrokerError as exc:
            log.info("%s: %s %s", method.__name__, exc.code.value, exc.message)
            error: BrokerError = exc
        except Exception:
            log.exception("%s failed unexpectedly", method.__name__)
            error = InternalError(ErrorCode.INTERNAL, "the daemon hit an internal error; its log has the details")
        await abort_with(context, error)

    return wrapper
