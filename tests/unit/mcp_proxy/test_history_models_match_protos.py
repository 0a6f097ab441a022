"""The history tools' output models stay equal to the daemon's messages (history.proto)."""

from __future__ import annotations

import pytest
from google.protobuf.message import Message
from pydantic import BaseModel

from mcp_proxy import history_models
from protos.broker.v1 import alerts_pb2, history_pb2

PAIRS: list[tuple[type[BaseModel], type[Message]]] = [
    (history_models.Transaction, history_pb2.Transaction),
    (history_models.TransactionSummary, history_pb2.TransactionSummary),
    (history_models.TransactionList, history_pb2.ListTransactionsResponse),
    (history_models.TransactionDetails, history_pb2.GetTransactionResponse),
    (history_models.Alert, alerts_pb2.Alert),
    (history_models.AlertList, alerts_pb2.ListAlertsResponse),
    (history_models.AlertDetails, alerts_pb2.GetAlertResponse),
]


@pytest.mark.parametrize(("model", "message"), PAIRS, ids=[m.__name__ for m, _ in PAIRS])
def test_model_fields_equal_the_message_fields(model: type[BaseModel], message: type[Message]) -> None:
    assert set(model.model_fields) == {f.name for f in message.DESCRIPTOR.fields}
