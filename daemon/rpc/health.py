"""The standard gRPC health service (``grpc.health.v1.Health``), answered from the daemon's state.

What the statuses mean for etrade-daemon:

- ``""`` (the server as a whole): SERVING whenever the daemon answers at all. A supervisor
  (systemd, launchd, a probe) must not restart the daemon because nobody has logged in: a
  restart cannot log in, and it would drop the pending login.
- ``etrade_mcp.broker.v1.Session`` and the health service itself: always SERVING; status, login
  and logout work in every session state.
- every other broker service (``Market``, ``Accounts``, and any added later): SERVING only while
  the E*TRADE session is ACTIVE; NOT_SERVING while a human must act (no credentials, not logged
  in, expired at midnight ET, revoked, inactive). Their calls would fail with a session error, so
  NOT_SERVING says "up, but cannot reach the account until someone runs `etradectl auth login`".

Statuses are computed when asked, from the session manager, so they are never stale. ``Watch``
re-reads the state every ``watch_interval`` seconds and sends each change.

We answer from live state instead of using ``grpc_health.v1.health.aio.HealthServicer``, whose
statuses are set by hand: nothing in the daemon announces session transitions, and a table
updated by polling would be right only some of the time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

HEALTH_SERVICE = "grpc.health.v1.Health"
SESSION_SERVICE = "etrade_mcp.broker.v1.Session"
# Services that work without an active E*TRADE session. Add yours if it does not need E*TRADE.
SESSION_FREE_SERVICES = frozenset({HEALTH_SERVICE, SESSION_SERVICE})

# grpc.health.v1.HealthCheckResponse.ServingStatus values.
SERVING: int = int(health_pb2.HealthCheckResponse.SERVING)
NOT_SERVING: int = int(health_pb2.HealthCheckResponse.NOT_SERVING)
SERVICE_UNKNOWN: int = int(health_pb2.HealthCheckResponse.SERVICE_UNKNOWN)


class ServiceRecorder:
    """Wraps a grpc.aio.Server while servicers are added, remembering every service's full name.

    The generated ``add_*Servicer_to_server`` functions call ``add_registered_method_handlers``
    with the service name, so the health service knows every service without a second list.
    """

    def __init__(self, server: grpc.aio.Server) -> None:
        self._server = server
        self.names: list[str] = []

    def add_registered_method_handlers(self, service_name: str, handlers: Any) -> None:
        self.names.append(service_name)
        self._server.add_registered_method_handlers(service_name, handlers)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._server, name)


class BrokerHealth(health_pb2_grpc.HealthServicer):  # type: ignore[misc]
    """``grpc.health.v1.Health``: Check, List and Watch over the live session state."""

    def __init__(
        self, services: Iterable[str], session_active: Callable[[], bool], *, watch_interval: float = 1.0
    ) -> None:
        self._services = frozenset(services) | {HEALTH_SERVICE}
        self._session_active = session_active
        self._watch_interval = watch_interval

    def status(self, service: str) -> int:
        """The serving status of ``service`` ("" is the whole daemon); SERVICE_UNKNOWN if not served."""
        if service == "" or service in SESSION_FREE_SERVICES:
            return SERVING
        if service not in self._services:
            return SERVICE_UNKNOWN
        return SERVING if self._session_active() else NOT_SERVING

    async def Check(
        self, request: health_pb2.HealthCheckRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> health_pb2.HealthCheckResponse:
        status = self.status(request.service)
        if status == SERVICE_UNKNOWN:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"unknown service {request.service!r}")
        return health_pb2.HealthCheckResponse(status=status)

    async def List(
        self, request: health_pb2.HealthListRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> health_pb2.HealthListResponse:
        names = ["", *sorted(self._services)]
        return health_pb2.HealthListResponse(
            statuses={name: health_pb2.HealthCheckResponse(status=self.status(name)) for name in names}
        )

    async def Watch(self, request: health_pb2.HealthCheckRequest, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        last: int | None = None
        while True:
            status = self.status(request.service)
            if status != last:
                await context.write(health_pb2.HealthCheckResponse(status=status))
                last = status
            await asyncio.sleep(self._watch_interval)


def add_health(server: grpc.aio.Server, services: Iterable[str], session_active: Callable[[], bool]) -> BrokerHealth:
    health = BrokerHealth(services, session_active)
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    return health
