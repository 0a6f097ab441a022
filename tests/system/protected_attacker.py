"""Run as an unprivileged member of the clients' group: every operator RPC, on every socket beside
the daemon's, with the operator's client name, with and without an identity token of our own.

Prints one JSON object: {"<socket> <method> <token?>": "<outcome>"}. An outcome is "OK" only if
the daemon served the call, which must never happen. Used by tests/system/test_protected_mode.py.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import grpc

from broker_client.metadata_keys import API_VERSION_KEY, AUTH_KEY, CLIENT_KEY, CODE_KEY
from daemon.rpc.authority import OPERATOR_RPCS, full_method
from protos.broker.v1 import API_VERSION


async def own_token(auth_socket: Path) -> str:
    reader, writer = await asyncio.open_unix_connection(str(auth_socket))
    answer = json.loads(await reader.readline())
    writer.close()
    return str(answer["token"])


async def attempt(target: Path, method: str, metadata: tuple[tuple[str, str], ...]) -> str:
    async with grpc.aio.insecure_channel(f"unix:{target}") as channel:
        call: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(
            method, request_serializer=lambda _: b"", response_deserializer=lambda raw: raw
        )
        try:
            await asyncio.wait_for(call(b"", metadata=metadata, timeout=10), 15)
        except grpc.aio.AioRpcError as exc:
            code = dict(exc.trailing_metadata() or ()).get(CODE_KEY)
            return f"{exc.code().name}:{code}"
        except (OSError, TimeoutError) as exc:
            return f"failed:{type(exc).__name__}"
        return "OK"


async def main(socket_path: Path) -> dict[str, str]:
    auth_socket = socket_path.with_name(socket_path.name + ".auth")
    token = await own_token(auth_socket)
    results: dict[str, str] = {}
    base = ((CLIENT_KEY, "etradectl/0.1.0"), (API_VERSION_KEY, API_VERSION))
    for target in (socket_path, auth_socket):
        for short in OPERATOR_RPCS:
            for label, metadata in (("none", base), ("own", (*base, (AUTH_KEY, token)))):
                results[f"{target.name} {short} {label}"] = await attempt(target, full_method(short), metadata)
    return results


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(Path(sys.argv[1])))))
