"""The API version handshake between the daemon and its clients (client, proxy) over a real socket."""

from __future__ import annotations

from pathlib import Path

import anyio
import grpc
import pytest
from mcp import Client

from broker_client import api_version
from broker_client.client import BrokerClient
from broker_client.errors import ErrorCode, VersionMismatch
from broker_client.metadata_keys import API_VERSION_KEY, KNOWN_API_VERSION_KEY
from emulator import Emulator
from mcp_proxy.server import DaemonLink, build_server
from protos.broker.v1 import API_VERSION, session_pb2, session_pb2_grpc
from tests.conftest import RunningDaemon
from tests.processes import child_env, etradectl
from tests.service.support import daemon_speaking
from tests.support import requests_to

pytestmark = pytest.mark.anyio

MAJOR, MINOR = (int(x) for x in API_VERSION.split("."))


def test_versions_compare_by_major_then_minor() -> None:
    assert api_version.compare("1.0", "1.0") is api_version.Compatibility.SAME
    assert api_version.compare("1.0", "1.7") is api_version.Compatibility.MINOR_DIFFERS
    assert api_version.compare("1.7", "1.0") is api_version.Compatibility.MINOR_DIFFERS
    assert api_version.compare("1.0", "2.0") is api_version.Compatibility.MAJOR_DIFFERS
    assert api_version.compare("1.0", "one") is api_version.Compatibility.UNREADABLE
    assert "the daemon is newer" in api_version.minor_warning("1.0", "1.10")
    assert "the client is newer" in api_version.minor_warning("1.10", "1.9")


async def test_matching_versions_are_silent_and_the_client_learns_the_daemons(daemon: RunningDaemon) -> None:
    warnings: list[str] = []
    async with BrokerClient(daemon.socket, on_version_warning=warnings.append) as client:
        before = client.daemon_api_version  # nothing happens before the first call
        status = await client.get_status()
        assert (before, client.daemon_api_version, status.api_version) == (None, API_VERSION, API_VERSION)
    assert warnings == []


async def test_a_minor_difference_warns_once_and_still_works(emulator: Emulator, short_dir: Path) -> None:
    newer = f"{MAJOR}.{MINOR + 3}"
    async with daemon_speaking(emulator, short_dir, newer) as daemon:
        warnings: list[str] = []
        async with BrokerClient(daemon.socket, on_version_warning=warnings.append) as client:
            assert (await client.get_status()).api_version == newer
            await client.get_status()
            await client.begin_login()
    assert len(warnings) == 1
    assert newer in warnings[0] and API_VERSION in warnings[0] and "daemon is newer" in warnings[0]


async def test_the_daemon_refuses_a_client_of_another_major_before_running_the_call(
    emulator: Emulator, short_dir: Path
) -> None:
    other = f"{MAJOR + 1}.0"
    async with daemon_speaking(emulator, short_dir, other) as daemon, BrokerClient(daemon.socket) as client:
        with pytest.raises(VersionMismatch) as caught:
            await client.begin_login()
        assert caught.value.code is ErrorCode.API_VERSION_MISMATCH
        assert other in caught.value.message and API_VERSION in caught.value.message
        assert "restart" in caught.value.hint
        # The refusal happened before the handler: E*TRADE was never asked for a request token.
        assert requests_to(emulator, "request_token") == 0
        with pytest.raises(VersionMismatch):
            await client.get_status()


async def test_the_client_refuses_a_daemon_of_another_major_on_its_own(daemon: RunningDaemon) -> None:
    # A daemon that did not refuse (an older build): the client refuses its answers by itself,
    # and stops calling once it knows.
    async with BrokerClient(daemon.socket) as client:
        with pytest.raises(VersionMismatch):
            client.check_version(grpc.aio.Metadata((API_VERSION_KEY, f"{MAJOR + 1}.0")))
        with pytest.raises(VersionMismatch):
            await client.begin_login()
    assert requests_to(daemon.emulator, "request_token") == 0


async def test_callers_that_declare_no_version_are_served(emulator: Emulator, short_dir: Path) -> None:
    # grpcurl, a generic health probe or a script using the raw stubs sends no version.
    other = f"{MAJOR + 1}.0"
    async with (
        daemon_speaking(emulator, short_dir, other) as daemon,
        grpc.aio.insecure_channel(f"unix:{daemon.socket}") as channel,
    ):
        call = session_pb2_grpc.SessionStub(channel).GetStatus(session_pb2.GetStatusRequest())
        status = await call
        assert status.api_version == other
        assert (await call.initial_metadata()).get(API_VERSION_KEY) == other


async def test_the_proxy_turns_a_major_mismatch_into_a_tool_error_with_the_fix(
    emulator: Emulator, short_dir: Path
) -> None:
    async with daemon_speaking(emulator, short_dir, f"{MAJOR + 1}.0") as daemon:
        link = DaemonLink(daemon.socket)
        async with Client(build_server(link)) as mcp:
            result = await mcp.call_tool("get_stock_quote", {"symbol": "AAPL"})
        await link.close()
    text = " ".join(getattr(block, "text", "") for block in result.content)
    assert result.is_error
    assert "[API_VERSION_MISMATCH]" in text
    assert "Next step: install the same etrade-mcp version" in text


async def test_etradectl_prints_the_minor_warning_on_stderr_and_carries_on(emulator: Emulator, short_dir: Path) -> None:
    newer = f"{MAJOR}.{MINOR + 1}"
    async with daemon_speaking(emulator, short_dir, newer) as daemon:
        result = await anyio.to_thread.run_sync(
            lambda: etradectl(child_env(short_dir), daemon.socket, "--json", "status")
        )
    assert result.json()["api_version"] == newer  # the command still worked (exit 4: nobody logged in)
    assert result.stderr.startswith(f"warning: the broker daemon speaks API {newer} and this client API {API_VERSION}")


async def test_the_daemon_announces_its_version_until_the_client_names_it(daemon: RunningDaemon) -> None:
    async with grpc.aio.insecure_channel(f"unix:{daemon.socket}") as channel:
        stub = session_pb2_grpc.SessionStub(channel)

        async def announced(known: str | None) -> object:
            metadata = [(API_VERSION_KEY, API_VERSION)]
            if known is not None:
                metadata.append((KNOWN_API_VERSION_KEY, known))
            call = stub.GetStatus(session_pb2.GetStatusRequest(), metadata=metadata)
            await call
            return (await call.initial_metadata()).get(API_VERSION_KEY)

        assert await announced(None) == API_VERSION
        assert await announced(API_VERSION) is None  # the client knows: no separate metadata send
        assert await announced(f"{MAJOR}.{MINOR + 1}") == API_VERSION  # it knew another daemon


async def test_the_client_names_the_version_it_learned_and_rechecks_a_new_one(daemon: RunningDaemon) -> None:
    warnings: list[str] = []
    async with BrokerClient(daemon.socket, on_version_warning=warnings.append) as client:
        await client.get_status()
        await client.get_status()  # answered without the version; still known
        assert client.daemon_api_version == API_VERSION
        newer = f"{MAJOR}.{MINOR + 1}"
        client.check_version(grpc.aio.Metadata((API_VERSION_KEY, newer)))  # a restarted, newer daemon
        assert client.daemon_api_version == newer
        assert len(warnings) == 1 and newer in warnings[0]
