"""The proxy must stay light: no rauth, APScheduler or keyring (and grpc only on first use)."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("rauth", "apscheduler", "keyring", "requests", "oauthlib", "emulator")


def modules_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint('\\n'.join(sys.modules))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    return set(result.stdout.split())


def test_importing_the_proxy_pulls_in_nothing_heavy() -> None:
    loaded = modules_after("import mcp_proxy, mcp_proxy.main, mcp_proxy.server\nmcp_proxy.server.build_server()")
    assert not {m for m in loaded if m.split(".")[0] in HEAVY}
    assert "grpc" not in loaded  # deferred to the first tool call: start-up stays at the SDK's floor


def test_the_shared_client_pulls_in_nothing_heavy() -> None:
    loaded = modules_after("import broker_client.client, broker_client.errors, broker_client.wire")
    assert not {m for m in loaded if m.split(".")[0] in HEAVY}


def test_the_client_imports_a_service_stub_module_on_first_use() -> None:
    # Each *_pb2_grpc module costs the proxy ~0.1 MiB of code it never runs (servicers, server glue).
    probe = """
import asyncio, os, tempfile
from broker_client.client import BrokerClient

async def main():
    with tempfile.TemporaryDirectory() as home:
        async with BrokerClient(os.path.join(home, "broker.sock")) as client:
            client.market_stub

asyncio.run(main())
"""
    stubs = {m for m in modules_after(probe) if m.endswith("_pb2_grpc")}
    assert stubs == {"protos.broker.v1.market_pb2_grpc"}
