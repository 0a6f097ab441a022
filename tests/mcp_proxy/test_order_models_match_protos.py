"""The order tools' output models are written by hand; keep them equal to orders.proto."""

from __future__ import annotations

import pytest
from google.protobuf.message import Message
from pydantic import BaseModel

from mcp_proxy import order_models
from protos.broker.v1 import orders_pb2

PAIRS: list[tuple[type[BaseModel], type[Message]]] = [
    (order_models.Order, orders_pb2.Order),
    (order_models.OrderList, orders_pb2.ListOrdersResponse),
    (order_models.OrderSpec, orders_pb2.OrderSpec),
    (order_models.EtradeMessage, orders_pb2.EtradeMessage),
    (order_models.RiskWarning, orders_pb2.RiskWarning),
    (order_models.OrderPreview, orders_pb2.OrderPreview),
    (order_models.PendingOrder, orders_pb2.PendingOrder),
    (order_models.PlacedOrder, orders_pb2.PlaceConfirmedResponse),
    (order_models.CancelledOrder, orders_pb2.CancelConfirmedResponse),
    (order_models.Fill, orders_pb2.Fill),
    (order_models.RecentFills, orders_pb2.RecentFillsResponse),
]


@pytest.mark.parametrize(("model", "message"), PAIRS, ids=[m.__name__ for m, _ in PAIRS])
def test_model_fields_equal_the_message_fields(model: type[BaseModel], message: type[Message]) -> None:
    assert set(model.model_fields) == {f.name for f in message.DESCRIPTOR.fields}


@pytest.mark.parametrize(("model", "message"), PAIRS, ids=[m.__name__ for m, _ in PAIRS])
def test_message_fields_are_nullable_in_the_model(model: type[BaseModel], message: type[Message]) -> None:
    for field in message.DESCRIPTOR.fields:
        if field.message_type is not None and not field.is_repeated:
            assert not model.model_fields[field.name].is_required(), field.name


def test_no_model_can_carry_a_confirmation_code() -> None:
    for model, _ in PAIRS:
        assert not any("code" in name and name != "code" for name in model.model_fields), model.__name__
