"""How a :class:`~broker_client.errors.BrokerError` travels over gRPC, both directions in one place.

The daemon aborts a call with the gRPC status of the error's kind (:data:`STATUS_BY_KIND`) and
:func:`error_metadata` in the trailing metadata: the code as ``x-etrade-error-code``, the hint as
UTF-8 in ``x-etrade-error-hint-bin``, ``retry_after`` (seconds) as ``x-etrade-retry-after``.
The client turns such trailing metadata back into the same exception class with
:func:`error_from_metadata`. Keeping the writer and the reader together is what keeps them in step.
"""

from __future__ import annotations

from collections.abc import Mapping

import grpc

from broker_client.errors import BrokerError, Kind, make_error, parse_code
from broker_client.metadata_keys import CODE_KEY, HINT_KEY, RETRY_AFTER_KEY

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


def error_metadata(exc: BrokerError) -> tuple[tuple[str, str | bytes], ...]:
    """The trailing metadata that carries ``exc`` to the client."""
    metadata: list[tuple[str, str | bytes]] = [(CODE_KEY, exc.code.value), (HINT_KEY, exc.hint.encode("utf-8"))]
    if exc.retry_after is not None:
        metadata.append((RETRY_AFTER_KEY, f"{exc.retry_after:.3f}"))
    return tuple(metadata)


def error_from_metadata(trailing: Mapping[str, str | bytes], details: str | None) -> BrokerError | None:
    """The exception the daemon raised, rebuilt from a failed call's trailing metadata and status details;
    None when the metadata carries no error code (the failure came from gRPC itself, not the daemon)."""
    code = trailing.get(CODE_KEY)
    if not isinstance(code, str):
        return None
    hint_raw = trailing.get(HINT_KEY)
    hint = hint_raw.decode("utf-8", "replace") if isinstance(hint_raw, bytes) else None
    retry_raw = trailing.get(RETRY_AFTER_KEY)
    retry_after = float(retry_raw) if isinstance(retry_raw, str) else None
    return make_error(parse_code(code), details or code, hint=hint, retry_after=retry_after)
