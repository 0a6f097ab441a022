"""Market data → market.proto messages (the Market and Options servicers)."""

from __future__ import annotations

from daemon import models
from daemon.rpc.convert.common import to_message
from protos.broker.v1 import market_pb2


def quote(q: models.Quote) -> market_pb2.Quote:
    """The message for a quote. Cached quotes are answered many times over, so their messages are
    kept (by the identity of the immutable Quote): building one costs ~20 us, a lookup ~0.1 us.
    The returned message is shared: copy it (as repeated fields and ``CopyFrom`` do), never change it.
    """
    kept = _QUOTE_MESSAGES.get(id(q))
    if kept is not None and kept[0] is q:
        return kept[1]
    message = to_message(market_pb2.Quote, q)
    if len(_QUOTE_MESSAGES) >= _QUOTE_MESSAGES_MAX:
        _QUOTE_MESSAGES.clear()
    _QUOTE_MESSAGES[id(q)] = (q, message)  # holding q keeps its id from being reused
    return message


_QUOTE_MESSAGES: dict[int, tuple[models.Quote, market_pb2.Quote]] = {}
_QUOTE_MESSAGES_MAX = 1024


def quote_batch(batch: models.QuoteBatch) -> market_pb2.GetQuotesResponse:
    return market_pb2.GetQuotesResponse(
        quotes=[quote(q) for q in batch.quotes],
        errors=[to_message(market_pb2.SymbolError, e) for e in batch.errors],
    )
