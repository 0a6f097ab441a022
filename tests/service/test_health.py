"""The standard gRPC health service: SERVING for the daemon, NOT_SERVING for E*TRADE-backed services without a session."""

from __future__ import annotations

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from broker_client.client import BrokerClient
from tests.conftest import RunningDaemon, login

pytestmark = pytest.mark.anyio

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
MARKET = "etrade_mcp.broker.v1.Market"
ACCOUNTS = "etrade_mcp.broker.v1.Accounts"
SESSION = "etrade_mcp.broker.v1.Session"


async def test_check_follows_the_session_state(daemon: RunningDaemon) -> None:
    async with daemon.client() as client:
        assert await client.health() == "SERVING"  # the daemon itself, before anyone logged in
        assert await client.health(SESSION) == "SERVING"
        assert await client.health(MARKET) == "NOT_SERVING"
        assert await client.health(ACCOUNTS) == "NOT_SERVING"
        await login(client)
        assert await client.health(MARKET) == "SERVING"
        assert await client.health(ACCOUNTS) == "SERVING"
        await client.logout()
        assert await client.health(MARKET) == "NOT_SERVING"
        assert await client.health() == "SERVING"


async def test_list_names_every_served_service_and_unknown_ones_are_not_found(daemon: RunningDaemon) -> None:
    async with grpc.aio.insecure_channel(f"unix:{daemon.socket}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        listing = await stub.List(health_pb2.HealthListRequest())
        statuses = {name: entry.status for name, entry in listing.statuses.items()}
        assert statuses[""] == SERVING
        assert statuses[SESSION] == SERVING
        assert statuses[MARKET] == NOT_SERVING
        assert statuses["grpc.health.v1.Health"] == SERVING
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.Check(health_pb2.HealthCheckRequest(service="etrade_mcp.broker.v1.Nope"))
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_watch_sends_the_change_when_someone_logs_in(daemon: RunningDaemon, broker: BrokerClient) -> None:
    await broker.logout()
    async with grpc.aio.insecure_channel(f"unix:{daemon.socket}") as channel:
        watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(service=MARKET), timeout=20)
        updates = watch.__aiter__()
        assert (await updates.__anext__()).status == NOT_SERVING
        await login(broker)
        assert (await updates.__anext__()).status == SERVING  # within one watch interval
        watch.cancel()
