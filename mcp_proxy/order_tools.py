"""The order tools of etrade-mcp: read orders, preview one, and place or cancel once a human approved.

The model can prepare a trade; only a human can make it real. ``preview_order`` returns a pending
order and how the human confirms it — never a code. The human reads the code in ``etradectl orders
pending`` (or a desktop notification) and either confirms there or tells the model, which passes it
to ``place_order_confirmed``. Every limit, code and journal lives in the daemon; these tools only
forward.

When the daemon runs read-only (its default), :class:`TradingAwareServer` leaves the order-changing
tools out of ``tools/list`` (the daemon would refuse them anyway). ``tools/list`` results carry
``ttlMs: 0`` (2026-07-28 clients) so a client never keeps a list from before the mode changed.
grpc is still imported on first use only.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Literal

import anyio
from mcp.server import MCPServer
from mcp.server.caching import CacheHint
from mcp.types import Tool as MCPTool
from mcp.types import ToolAnnotations
from pydantic import Field

from mcp_proxy import order_models
from mcp_proxy.models import message_to_dict

if TYPE_CHECKING:
    from mcp.server.context import CallNext, HandlerResult, ServerRequestContext

    from mcp_proxy.daemon_link import DaemonLink

log = logging.getLogger(__name__)

#: Seconds between the initialize reply and registering the tools ahead of their first use.
AHEAD_DELAY = 0.05

#: Tools that change something (a pending order at the daemon, or an order at E*TRADE).
ORDER_CHANGING = frozenset({"preview_order", "place_order_confirmed", "cancel_order", "cancel_order_confirmed"})
#: How long tools/list waits for the daemon's mode before leaving the order-changing tools out.
MODE_TIMEOUT = 3.0

READS = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=True)
PREPARES = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True)
DESTRUCTIVE = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=True)

AccountKeyArg = Annotated[str, Field(description="An account_id_key from list_accounts", min_length=1, max_length=64)]
#: Order numbers and share counts travel as signed 64-bit integers.
INT64_MAX = 2**63 - 1
OrderIdArg = Annotated[int, Field(description="An order_id from list_orders", ge=1, le=INT64_MAX)]
PendingIdArg = Annotated[
    str, Field(description="The pending_id returned by preview_order or cancel_order", min_length=1, max_length=40)
]
CodeArg = Annotated[
    str,
    Field(
        description="The confirmation code the human read in `etradectl orders pending` and told you, e.g. ABCD-EFGH. "
        "Never guess one: wrong codes void the pending order.",
        min_length=1,
        max_length=32,
    ),
]
PriceArg = Annotated[
    Decimal | None,
    Field(description="Exact price in USD, e.g. 187.25", gt=0, le=1_000_000, max_digits=14, decimal_places=4),
]
DateArg = Annotated[str | None, Field(description="YYYY-MM-DD (US Eastern)", pattern=r"^\d{4}-\d{2}-\d{2}$")]


def _price(value: Decimal | None) -> str:
    return "" if value is None else format(value, "f")


class TradingAwareServer(MCPServer):
    """An MCPServer whose ``tools/list`` offers the order-changing tools only when the daemon trades,
    and which registers its tools on first need rather than at start-up.

    The SDK builds a pydantic model and JSON schemas for every tool as it is added (1-5 ms each,
    about 45 ms for the proxy's tools); none of that is needed to answer ``initialize``. So
    ``add_tool`` only records the call, and the first ``tools/list``, ``tools/call`` or input-schema
    lookup registers them all, in order. A mistake in a tool's signature therefore surfaces at the
    first ``tools/list`` (every test lists the tools) instead of at start-up.

    Nor need it wait for the first ``tools/list`` or ``tools/call``: once the client's first request
    (``initialize``, or ``server/discover`` on 2026-07-28 connections) has been answered, the lifespan registers them in the background (the client is busy with its own
    start-up or waits for its model meanwhile), so a first call does not pay for them. If that
    fails, the tool that failed stays deferred and the first ``tools/list`` raises as before.
    """

    def __init__(self, *args: Any, trading_enabled: Callable[[], Awaitable[bool]], **kwargs: Any) -> None:
        # ttlMs 0: a 2026-07-28 client must ask again rather than trust a list from another mode.
        kwargs.setdefault("cache_hints", {"tools/list": CacheHint(ttl_ms=0, scope="private")})
        self._deferred_tools: list[tuple[Callable[..., Any], dict[str, Any]]] = []
        self._handshake_answered = anyio.Event()
        #: Set once the background registration has run (whether or not every tool registered).
        self.tools_registered_ahead = anyio.Event()
        kwargs["middleware"] = [self._note_handshake, *(kwargs.get("middleware") or ())]
        inner = kwargs.get("lifespan")
        if inner is not None:
            kwargs["lifespan"] = self._registering_ahead(inner)
        super().__init__(*args, **kwargs)
        self._trading_enabled = trading_enabled

    async def _note_handshake(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        try:
            return await call_next(ctx)
        finally:
            # The first request is the handshake: initialize, or server/discover (2026-07-28).
            if ctx.request_id is not None:
                self._handshake_answered.set()

    def _registering_ahead(
        self, inner: Callable[[Any], AbstractAsyncContextManager[Any]]
    ) -> Callable[[Any], AbstractAsyncContextManager[Any]]:
        @asynccontextmanager
        async def lifespan(server: Any) -> AsyncIterator[Any]:
            async with inner(server) as state, anyio.create_task_group() as group:
                group.start_soon(self._register_after_handshake)
                try:
                    yield state
                finally:
                    group.cancel_scope.cancel()

        return lifespan

    async def _register_after_handshake(self) -> None:
        await self._handshake_answered.wait()
        # Let the initialize reply reach the client before this CPU work holds the event loop. The
        # pause orders work, it guards nothing: were the reply later, it would only be slower.
        await anyio.sleep(AHEAD_DELAY)
        try:
            self._register_deferred_tools()
        except Exception:  # the first tools/list raises it again, where a client sees it
            log.warning("tools: registering the tools ahead failed; the first tools/list will say why")
        finally:
            self.tools_registered_ahead.set()

    def add_tool(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        if args:
            raise TypeError("pass add_tool's options by keyword")
        self._deferred_tools.append((fn, kwargs))

    def _register_deferred_tools(self) -> None:
        while self._deferred_tools:
            fn, kwargs = self._deferred_tools[0]
            super().add_tool(fn, **kwargs)  # a failing tool stays first in line and fails again
            del self._deferred_tools[0]

    def _tool_input_schema(self, name: str) -> dict[str, Any] | None:
        # Private, but the SDK offers no public hook: MCPServer hands this method to the low-level
        # server as its input-schema lookup. `mcp` is pinned exactly for it, and
        # tests/mcp_proxy/test_sdk_private_surface.py fails first when an update changes it.
        self._register_deferred_tools()
        return super()._tool_input_schema(name)

    async def call_tool(self, *args: Any, **kwargs: Any) -> Any:
        self._register_deferred_tools()
        return await super().call_tool(*args, **kwargs)

    async def list_tools(self) -> list[MCPTool]:
        self._register_deferred_tools()
        tools = await super().list_tools()
        if await self._trading_enabled():
            return tools
        return [tool for tool in tools if tool.name not in ORDER_CHANGING]


#: Session states in which the daemon can reach E*TRADE (an idle session is renewed on use).
USABLE_SESSION_STATES = ("SESSION_STATE_ACTIVE", "SESSION_STATE_INACTIVE")


def trading_probe(link: DaemonLink) -> Callable[[], Awaitable[bool]]:
    """Ask the daemon whether it can trade now — not read-only, not halted, a usable E*TRADE session;
    when it cannot say, assume not (the safe answer). The daemon announces every change of these
    (tools/list_changed), so clients refetch the list."""

    async def trading_enabled() -> bool:
        from broker_client.errors import BrokerError

        try:
            status = await link.client().get_status(timeout=MODE_TIMEOUT)
        except BrokerError as exc:
            log.info("tools/list: the daemon's trading mode is unknown (%s); order tools left out", exc.code.value)
            return False
        from protos.broker.v1 import session_pb2

        session_usable = session_pb2.SessionState.Name(status.session.state) in USABLE_SESSION_STATES
        return not status.read_only and not status.trading_halted and session_usable

    return trading_enabled


def register_order_tools(server: MCPServer, daemon: DaemonLink, call: Callable[[Any], Awaitable[Any]]) -> None:
    """Add the order tools to ``server``; ``call`` turns daemon errors into tool errors."""

    @server.tool(title="List orders", annotations=READS)
    async def list_orders(
        account_id_key: AccountKeyArg,
        status: Literal["OPEN", "EXECUTED", "CANCELLED", "CANCEL_REQUESTED", "EXPIRED", "REJECTED"] | None = None,
        from_date: DateArg = None,
        to_date: DateArg = None,
        symbol: Annotated[str | None, Field(description="Only this ticker symbol", max_length=10)] = None,
        limit: Annotated[int, Field(description="Most orders to return", ge=1, le=500)] = 25,
    ) -> order_models.OrderList:
        """List an account's orders at E*TRADE, newest first: status (OPEN, EXECUTED, CANCELLED, ...), fills
        and prices. Without dates, the last 30 days."""
        response = await call(
            daemon.client().list_orders(
                account_id_key,
                status=status or "",
                from_date=from_date or "",
                to_date=to_date or "",
                symbol=symbol or "",
                limit=limit,
            )
        )
        return order_models.OrderList.model_validate(message_to_dict(response))

    @server.tool(title="Order details", annotations=READS)
    async def get_order_details(account_id_key: AccountKeyArg, order_id: OrderIdArg) -> order_models.Order:
        """Get one order: its status, quantities ordered and filled, average execution price and times."""
        response = await call(daemon.client().get_order(account_id_key, order_id))
        return order_models.Order.model_validate(message_to_dict(response.order))

    @server.tool(title="Recent fills", annotations=READS)
    async def get_recent_fills(
        account_id_key: Annotated[
            str | None, Field(description="Only this account (from list_accounts); omit for all", max_length=64)
        ] = None,
        limit: Annotated[int, Field(description="Most fills to return", ge=1, le=200)] = 20,
    ) -> order_models.RecentFills:
        """Fills the daemon noticed, newest first — orders placed here or on E*TRADE's web site or app; partial
        fills too. The daemon watches working orders itself, so this answers "did my order fill?" without
        polling: check watcher_state and last_checked_at_unix_ms for how fresh it is. For older history use
        list_orders."""
        response = await call(daemon.client().recent_fills(account_id_key or "", limit=limit))
        return order_models.RecentFills.model_validate(message_to_dict(response))

    @server.tool(title="Preview an order", annotations=PREPARES)
    async def preview_order(
        account_id_key: AccountKeyArg,
        symbol: Annotated[str, Field(description="Ticker symbol, e.g. AAPL", min_length=1, max_length=10)],
        order_action: Literal["BUY", "SELL", "BUY_TO_COVER", "SELL_SHORT"],
        quantity: Annotated[int, Field(description="Whole shares", ge=1, le=INT64_MAX)],
        price_type: Literal["MARKET", "LIMIT", "STOP", "STOP_LIMIT"],
        limit_price: PriceArg = None,
        stop_price: PriceArg = None,
        order_term: Literal[
            "GOOD_FOR_DAY", "GOOD_UNTIL_CANCEL", "IMMEDIATE_OR_CANCEL", "FILL_OR_KILL"
        ] = "GOOD_FOR_DAY",
        market_session: Literal["REGULAR", "EXTENDED"] = "REGULAR",
        all_or_none: bool = False,
    ) -> order_models.PendingOrder:
        """Preview an equity order WITHOUT placing it. The daemon checks it (price band, value and daily
        limits, buying power, position, concentration), asks E*TRADE for its estimate, and holds it as a
        pending order for a few minutes. Show the human the estimate, commission, E*TRADE's messages and
        the warnings, and relay confirm_instructions: only the human can approve, with a code you do not
        have. LIMIT needs limit_price, STOP stop_price, STOP_LIMIT both."""
        from protos.broker.v1 import orders_pb2

        spec = orders_pb2.OrderSpec(
            account_id_key=account_id_key,
            symbol=symbol,
            action=order_action,
            quantity=quantity,
            price_type=price_type,
            limit_price=_price(limit_price),
            stop_price=_price(stop_price),
            order_term=order_term,
            market_session=market_session,
            all_or_none=all_or_none,
        )
        response = await call(daemon.client().preview_order(spec))
        return order_models.PendingOrder.model_validate(message_to_dict(response.pending))

    @server.tool(title="Place a confirmed order", annotations=DESTRUCTIVE)
    async def place_order_confirmed(pending_id: PendingIdArg, confirmation_code: CodeArg) -> order_models.PlacedOrder:
        """Place a previewed order at E*TRADE with the confirmation code the HUMAN gave you for it. Real
        money: call it only after the human approved this exact order and told you its code. If the
        answer says the outcome is unknown, do not try again: check list_orders."""
        response = await call(daemon.client().place_confirmed(pending_id, confirmation_code))
        return order_models.PlacedOrder.model_validate(message_to_dict(response))

    @server.tool(title="Request a cancel", annotations=DESTRUCTIVE)
    async def cancel_order(account_id_key: AccountKeyArg, order_id: OrderIdArg) -> order_models.PendingOrder:
        """Ask to cancel an OPEN order. Sends nothing yet: it creates a pending cancel that the human must
        confirm like an order (relay confirm_instructions)."""
        response = await call(daemon.client().request_cancel(account_id_key, order_id))
        return order_models.PendingOrder.model_validate(message_to_dict(response.pending))

    @server.tool(title="Cancel a confirmed order", annotations=DESTRUCTIVE)
    async def cancel_order_confirmed(
        pending_id: PendingIdArg, confirmation_code: CodeArg
    ) -> order_models.CancelledOrder:
        """Send a pending cancel to E*TRADE with the confirmation code the HUMAN gave you for it."""
        response = await call(daemon.client().cancel_confirmed(pending_id, confirmation_code))
        return order_models.CancelledOrder.model_validate(message_to_dict(response))
