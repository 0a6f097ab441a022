"""What every tool module shares: argument types, annotations, and the daemon's errors as tool errors.

Imports no tool, resource or prompt module (``lint-imports`` checks it); grpc is imported on the
first error only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field

if TYPE_CHECKING:
    from broker_client.errors import BrokerError

SymbolArg = Annotated[
    str,
    Field(
        description="Ticker symbol, e.g. AAPL or BRK.B (case does not matter)",
        min_length=1,
        max_length=10,
    ),
]
AccountKeyArg = Annotated[
    str,
    Field(description="An account_id_key from list_accounts", min_length=1, max_length=64),
]

READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=True)


def tool_error(exc: BrokerError) -> ToolError:
    """A tool error the model can act on: what happened, then the next step, with the stable code."""
    return ToolError(f"{exc.message}. Next step: {exc.hint}. [{exc.code.value}]")


@contextmanager
def tool_errors() -> Iterator[None]:
    """Turn the daemon's typed errors raised inside the block into tool errors (streams included)."""
    from broker_client.errors import BrokerError

    try:
        yield
    except BrokerError as exc:
        raise tool_error(exc) from None


async def call_daemon(coro: Awaitable[Any]) -> Any:
    """Await one daemon call; its errors become tool errors."""
    with tool_errors():
        return await coro
