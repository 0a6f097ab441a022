"""MCP resources of ``etrade-mcp``: read-only documents a client can attach to a conversation.

``etrade://session/status`` — the E*TRADE session as the daemon sees it (JSON): the state, what
it means, the exact command that fixes it, when the session ends (midnight US Eastern, in ET and
the daemon's local time), the last upstream call, the next automatic renewal and any "log in"
reminder. Reading it never fails for session reasons; when the daemon is down the document says
so and what to run.

Register more resources with :func:`register_resources` (called from ``build_server``). Like the
tools, resources reach the daemon through the shared :class:`~mcp_proxy.daemon_link.DaemonLink`, which
imports grpc on first use only: the proxy's start-up stays at the SDK's floor.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mcp.server import MCPServer

    from mcp_proxy.daemon_link import DaemonLink

SESSION_STATUS_URI = "etrade://session/status"
JSON_MIME = "application/json"

_SESSION_STATUS_DESCRIPTION = (
    "The E*TRADE session of the user's etrade-mcp daemon: state (ACTIVE, INACTIVE, NEEDS_LOGIN, EXPIRED, "
    "REVOKED, NO_CREDENTIALS, or DAEMON_UNAVAILABLE), what it means, the exact command the human must run "
    "when it is not usable (fix_command), when the session ends (midnight US Eastern; expires_at_et, "
    "expires_in_seconds), the last call to E*TRADE, the next automatic renewal, and any login reminder."
)


def session_status_document(status: Any) -> dict[str, Any]:
    """The resource's JSON document from a ``GetStatusResponse``."""
    from protos.broker.v1 import session_pb2

    session = status.session
    state = session_pb2.SessionState.Name(session.state).removeprefix("SESSION_STATE_")
    as_of = session.as_of_unix_ms
    return {
        "state": state,
        "usable": state in ("ACTIVE", "INACTIVE"),
        "detail": session.detail,
        "fix_command": session.fix_command or None,
        "expires_at_et": session.expires_at_et or None,
        "expires_at_local": session.expires_at_local or None,
        "expires_in_seconds": (session.expires_at_unix_ms - as_of) // 1000 if session.expires_at_unix_ms else None,
        "last_upstream_call_et": session.last_upstream_call_et or None,
        "next_renewal_et": session.next_renewal_et or None,
        "last_renewal_result": session.last_renewal_result or None,
        "login_reminder": session.login_reminder or None,
        "environment": status.environment,
        "read_only": status.read_only,
        "daemon_version": status.daemon_version,
        "api_version": status.api_version,
        "as_of_unix_ms": as_of,
    }


def unavailable_document(exc: Any) -> dict[str, Any]:
    """The document when the daemon cannot answer: what happened and what to run."""
    return {
        "state": "DAEMON_UNAVAILABLE" if exc.code.kind.value == "unavailable" else exc.code.value,
        "usable": False,
        "detail": exc.message,
        "fix_command": None,
        "next_step": exc.hint,
        "code": exc.code.value,
    }


def register_resources(server: MCPServer, daemon: DaemonLink) -> None:
    """Add the proxy's resources to ``server``; each reads from the daemon on demand."""

    @server.resource(
        SESSION_STATUS_URI,
        name="session_status",
        title="E*TRADE session status",
        description=_SESSION_STATUS_DESCRIPTION,
        mime_type=JSON_MIME,
    )
    async def session_status() -> str:
        from broker_client.errors import BrokerError

        try:
            status = await daemon.client().get_status()
        except BrokerError as exc:
            return json.dumps(unavailable_document(exc), indent=2)
        return json.dumps(session_status_document(status), indent=2)
