"""Domain errors → gRPC status + trailing metadata, for every servicer method.

The code travels as ``x-etrade-error-code``; the hint as UTF-8 in ``x-etrade-error-hint-bin``;
``retry_after`` (seconds) as ``x-etrade-retry-after``. ``daemon/client.py`` reads them back.
Unexpected exceptions are logged with their traceback and become INTERNAL with a generic message:
internals never reach a client.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc

from daemon import metadata_keys
from daemon.errors import BrokerError, ErrorCode, InternalError, Kind

log = logging.getLogger(__name__)

CODE_KEY = metadata_keys.CODE_KEY
HINT_KEY = metadata_keys.HINT_KEY
RETRY_AFTER_KEY = metadata_keys.RETRY_AFTER_KEY

STATUS_BY_KIND: dict[Kind, grpc.StatusCode] = {
    Kind.UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
    Kind.VERSION: grpc.StatusCode.FAILED_PRECONDITION,
    Kind.SESSION: grpc.StatusCode.FAILED_PRECONDITION,
    Kind.INVALID: grpc.StatusCode.INVALID_ARGUMENT,
    Kind.NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    Kind.RATE_LIMITED: grpc.StatusCode.RESOURCE_EXHAUSTED,
    Kind.UPSTREAM: grpc.StatusCode.UNAVAILABLE,
    Kind.POLICY: grpc.StatusCode.PERMISSION_DENIED,
    Kind.INTERNAL: grpc.StatusCode.INTERNAL,
}

Req = TypeVar("Req")
Resp = TypeVar("Resp")
Handler = Callable[[Any, Req, grpc.aio.ServicerContext[Req, Resp]], Awaitable[Resp]]


def error_metadata(exc: BrokerError) -> tuple[tuple[str, str | bytes], ...]:
    metadata: list[tuple[str, str | bytes]] = [(CODE_KEY, exc.code.value), (HINT_KEY, exc.hint.encode("utf-8"))]
    if exc.retry_after is not None:
        metadata.append((RETRY_AFTER_KEY, f"{exc.retry_after:.3f}"))
    return tuple(metadata)


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
        await context.abort(STATUS_BY_KIND[error.code.kind], error.message, trailing_metadata=error_metadata(error))
        raise AssertionError("context.abort returned")  # abort always raises

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
        await context.abort(STATUS_BY_KIND[error.code.kind], error.message, trailing_metadata=error_metadata(error))

    return wrapper
