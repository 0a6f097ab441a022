"""protos/proxy_models.py: the mapping from .proto messages to the proxy's pydantic output models.

Runs protoc on a small .proto (with comments) and loads the rendered module, so each rule is checked
on the models the MCP SDK turns into output schemas.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from google.protobuf import descriptor_pb2
from grpc_tools import protoc

from protos import proxy_models

PROTO = """
syntax = "proto3";
package etrade_mcp.broker.v1;

enum Side {
  SIDE_UNSPECIFIED = 0;
  SIDE_BUY = 1;
}

// A leg of a trade.
// Second line of the comment.
message Leg {
  // Ticker, e.g. "AAPL".
  string symbol = 1;
  optional double price = 2;
  Side side = 3;
  int64 quantity = 4;  // whole shares
}

message Trade {
  repeated Leg legs = 1;
  Leg main = 2;
  bool done = 3;
}
"""


def _render(tmp_path: Path, models: tuple[tuple[str, str], ...]) -> str:
    (tmp_path / "t.proto").write_text(PROTO)
    out = tmp_path / "set.pb"
    assert (
        protoc.main(["protoc", f"-I{tmp_path}", "--include_source_info", f"--descriptor_set_out={out}", "t.proto"]) == 0
    )
    return proxy_models.render(descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes()).file, models)


def _load(source: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    # Registered, as an imported module is: pydantic resolves the annotations in its namespace.
    module = ModuleType("rendered_models")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    exec(compile(source, module.__name__, "exec"), module.__dict__)
    return module


def test_fields_map_to_required_nullable_lists_and_literals(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = _load(_render(tmp_path, (("TradeModel", "Trade"), ("LegModel", "Leg"))), monkeypatch)
    schema: dict[str, Any] = module.TradeModel.model_json_schema()
    leg = schema["$defs"]["LegModel"]
    assert set(leg["required"]) == {"symbol", "side", "quantity"}  # presence-less scalars
    assert leg["properties"]["price"] == {
        "anyOf": [{"type": "number"}, {"type": "null"}],
        "default": None,
        "title": "Price",
    }
    assert leg["properties"]["side"]["enum"] == ["SIDE_UNSPECIFIED", "SIDE_BUY"]
    assert leg["properties"]["quantity"]["type"] == "integer"
    assert set(schema["required"]) == {"legs", "done"}
    assert schema["properties"]["legs"]["type"] == "array"
    assert schema["properties"]["main"]["anyOf"] == [{"$ref": "#/$defs/LegModel"}, {"type": "null"}]


def test_comments_become_descriptions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = _load(_render(tmp_path, (("LegModel", "Leg"),)), monkeypatch)
    schema = module.LegModel.model_json_schema()
    assert schema["description"] == "A leg of a trade.\nSecond line of the comment."
    assert schema["properties"]["symbol"]["description"] == 'Ticker, e.g. "AAPL".'
    assert schema["properties"]["quantity"]["description"] == "whole shares"  # a trailing comment
    assert "description" not in schema["properties"]["price"]


def test_a_nested_message_without_a_model_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match=r"etrade_mcp.broker.v1.Leg \(field legs\) has no model"):
        _render(tmp_path, (("TradeModel", "Trade"),))


def test_a_mapped_message_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match=r"maps messages that do not exist: \.etrade_mcp\.broker\.v1\.Nothing"):
        _render(tmp_path, (("X", "Nothing"),))
