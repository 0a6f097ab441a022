"""Small pieces the daemon's interceptors and error decorators share: re-wrapping a gRPC method
handler's behaviour, and ending a call with one of our errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn, TypeAlias

import grpc

from broker_client.error_wire import STATUS_BY_KIND, error_metadata
from broker_client.errors import BrokerError

Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"
#: Takes a handler's behaviour (a coroutine function or an async generator function), returns its wrapper.
Wrap = Callable[[Any], Any]

_FACTORIES = {
    "unary_unary": (grpc.unary_unary_rpc_method_handler, False),
    "unary_stream": (grpc.unary_stream_rpc_method_handler, True),
    "stream_unary": (grpc.stream_unary_rpc_method_handler, False),
    "stream_stream": (grpc.stream_stream_rpc_method_handler, True),
}


def rewrap(handler: Handler, unary: Wrap, streaming: Wrap) -> Handler:
    """``handler`` with its behaviour passed through ``unary`` (one response) or ``streaming`` (a
    stream of responses), its serializers kept."""
    for attribute, (factory, streams) in _FACTORIES.items():
        behavior = getattr(handler, attribute)
        if behavior is not None:
            return factory(
                (streaming if streams else unary)(behavior),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
    return handler


async def abort_with(context: grpc.aio.ServicerContext[Any, Any], error: BrokerError) -> NoReturn:
    """End the call with ``error``: its status, its message and our trailing metadata."""
    await context.abort(STATUS_BY_KIND[error.code.kind], error.message, trailing_metadata=error_metadata(error))
    raise AssertionError("context.abort returned")  # abort always raises
