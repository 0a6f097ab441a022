"""The proxy's output models are generated from the .proto files at `make protos` time (loading protobuf
descriptors at run time would cost the proxy ~35 ms of start-up); this test checks the mapping the
tools rely on against the descriptors."""

from __future__ import annotations

import pytest
from google.protobuf.message import Message
from pydantic import BaseModel

from mcp_proxy import models
from protos.broker.v1 import accounts_pb2, market_pb2

PAIRS: list[tuple[type[BaseModel], type[Message]]] = [
    (models.Quote, market_pb2.Quote),
    (models.SymbolProblem, market_pb2.SymbolError),
    (models.QuoteList, market_pb2.GetQuotesResponse),
    (models.Account, accounts_pb2.Account),
    (models.AccountList, accounts_pb2.ListAccountsResponse),
    (models.Balance, accounts_pb2.Balance),
    (models.Position, accounts_pb2.Position),
    (models.PortfolioTotals, accounts_pb2.PortfolioTotals),
    (models.Portfolio, accounts_pb2.GetPortfolioResponse),
    (models.Lot, accounts_pb2.Lot),
    (models.PositionDetails, accounts_pb2.GetPositionResponse),
]


@pytest.mark.parametrize(("model", "message"), PAIRS, ids=[m.__name__ for m, _ in PAIRS])
def test_model_fields_equal_the_message_fields(model: type[BaseModel], message: type[Message]) -> None:
    wire = {f.name for f in message.DESCRIPTOR.fields}
    assert set(model.model_fields) == wire


@pytest.mark.parametrize(("model", "message"), PAIRS, ids=[m.__name__ for m, _ in PAIRS])
def test_optional_wire_fields_are_nullable(model: type[BaseModel], message: type[Message]) -> None:
    for field in message.DESCRIPTOR.fields:
        if field.has_presence and not field.is_repeated:
            assert not model.model_fields[field.name].is_required(), field.name
