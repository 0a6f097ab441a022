"""analyze_portfolio's and the watchlists' output models stay equal to the daemon's messages."""

from __future__ import annotations

import pytest
from google.protobuf.message import Message
from pydantic import BaseModel

from mcp_proxy import analytics_models
from protos.broker.v1 import analytics_pb2, watchlists_pb2

PAIRS: list[tuple[type[BaseModel], type[Message]]] = [
    (analytics_models.Holding, analytics_pb2.Holding),
    (analytics_models.Allocation, analytics_pb2.Allocation),
    (analytics_models.PortfolioAnalysis, analytics_pb2.PortfolioAnalysis),
    (analytics_models.PeriodActivity, analytics_pb2.PeriodActivity),
    (analytics_models.Watchlist, watchlists_pb2.Watchlist),
    (analytics_models.WatchlistList, watchlists_pb2.ListWatchlistsResponse),
]


@pytest.mark.parametrize(("model", "message"), PAIRS, ids=[m.__name__ for m, _ in PAIRS])
def test_model_fields_equal_the_message_fields(model: type[BaseModel], message: type[Message]) -> None:
    assert set(model.model_fields) == {f.name for f in message.DESCRIPTOR.fields}
