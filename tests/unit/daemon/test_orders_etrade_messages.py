"""E*TRADE's order messages are passed on with account numbers masked, and otherwise intact."""

from __future__ import annotations

from daemon.orders.etrade import parse_place, parse_preview


def message(code: int, description: str) -> dict[str, object]:
    return {"Message": [{"code": code, "type": "WARNING", "description": description}]}


def test_preview_messages_mask_account_numbers_and_keep_the_rest() -> None:
    preview = parse_preview(
        {
            "PreviewOrderResponse": {
                "PreviewIds": [{"previewId": 1703128870}],
                "Order": [{"messages": message(1042, "Account 845120337 has a pending day-trade call of 12.50")}],
                "Messages": message(1043, "Order 4567 replaces order 4566"),
            }
        }
    )
    assert [m.description for m in preview.messages] == [
        "Account ****0337 has a pending day-trade call of 12.50",
        "Order 4567 replaces order 4566",
    ]
    assert preview.preview_ids == (1703128870,)  # structured ids are not text and stay whole


def test_place_messages_mask_account_numbers() -> None:
    placed = parse_place(
        {
            "PlaceOrderResponse": {
                "OrderIds": [{"orderId": 673}],
                "Order": [{"messages": message(1026, "Order placed for account 845120337.")}],
            }
        }
    )
    assert [m.description for m in placed.messages] == ["Order placed for account ****0337."]
