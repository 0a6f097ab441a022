"""MCP resources ``orders://{account_id_key}/recent`` (an account's orders of the last 30 days) and
``fills://recent`` (the fills the daemon's fill watcher noticed).

The application-controlled twin of ``list_orders`` (the user's plan, §3.2): a client attaches it
to a conversation, and subscribers are told when an order's status changes (the daemon publishes
ORDER_STATUS_CHANGED; ``mcp_proxy/live.py`` turns it into ``notifications/resources/updated``).
Read-only: nothing here can place or cancel anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from mcp_proxy import order_models
from mcp_proxy.account_resources import JSON, _read, account_keys
from mcp_proxy.live import FILLS_RECENT, ORDERS_RECENT
from mcp_proxy.models import message_to_dict

if TYPE_CHECKING:
    from mcp.server import MCPServer

    from mcp_proxy.completions import Completions
    from mcp_proxy.daemon_link import DaemonLink

RECENT_LIMIT = 100
FILLS_LIMIT = 50


def register_order_resources(server: MCPServer, daemon: DaemonLink, completions: Completions) -> None:
    @server.resource(
        ORDERS_RECENT,
        name="orders_recent",
        title="Recent orders",
        description="One account's orders at E*TRADE from the last 30 days, newest first (status, "
        "quantities ordered and filled, prices, average fill price). account_id_key comes from list_accounts.",
        mime_type=JSON,
    )
    async def orders_recent(account_id_key: str) -> str:
        response = await _read(daemon.client().list_orders(account_id_key, limit=RECENT_LIMIT))
        return order_models.OrderList.model_validate(message_to_dict(response)).model_dump_json(indent=2)

    @server.resource(
        FILLS_RECENT,
        name="fills_recent",
        title="Recent fills",
        description="Fills the daemon noticed in every account, newest first (orders placed here or on "
        "E*TRADE's web site or app), with what its fill watcher is doing. Subscribers are told of each new fill.",
        mime_type=JSON,
    )
    async def fills_recent() -> str:
        response = await _read(daemon.client().recent_fills(limit=FILLS_LIMIT))
        return order_models.RecentFills.model_validate(message_to_dict(response)).model_dump_json(indent=2)

    async def complete_accounts(partial: str, chosen: Mapping[str, str]) -> Sequence[str]:
        return await account_keys(daemon)

    completions.for_template(ORDERS_RECENT, "account_id_key", complete_accounts)
