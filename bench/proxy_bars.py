"""etrade-mcp against the bare SDK server, in one run: first call, warm path (with a breakdown) and memory.

The baseline is ``bench/floor_server.py``, a one-tool MCPServer started the same way (python -m),
driven by the same client (``bench/stdio_driver.py``) in the same run. The proxy talks to a real
daemon and emulator; the quote it asks for is in the daemon's cache (another client asked first),
so what is measured is the proxy and the daemon, not E*TRADE.

- first call: a freshly spawned server's first ``get_stock_quote``, the two designs interleaved,
  sent right after the handshake (initialize, notifications/initialized) and ``--gap`` (1 s) after
  it. The bar judges the latter: a client's first call comes when its model asks for one, and the
  proxy uses the time since ``initialize`` to import its client and connect to the daemon; the
  former is printed too (the worst case: nothing could be done ahead);
- warm path: the servers open at once, calls alternated between them, so load on the shared
  machine hits all alike. Besides the floor and etrade-mcp, two variants of the floor run for the
  breakdown (never for a bar): on etrade-mcp's stdio transport, and on it plus one gRPC health
  check per call. The breakdown splits our p50 into the SDK's machinery on our transport, one gRPC
  round trip as a server pays it (the two variants' difference), the daemon's quote work (a quote
  call minus a health check, timed in this process), the proxy's conversion and validation of the
  answer (timed in this process), and the rest of the proxy (what remains);
- memory: RSS and USS of both servers after the warm calls.

``--profile`` also runs one proxy under cProfile and prints where its warm calls spend their time.

Bars: first call (``--gap`` after the handshake) <= floor's + 20 ms; warm p50 <= 1.5x the floor's, p99 <= 3x;
proxy RSS <= floor's + 20 MiB, USS <= floor's + 10 MiB.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import pstats
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.harness import bench_system, load_average, memory_mb, ms, timed_call, verdict
from bench.startup import FLOOR
from bench.stdio_driver import StdioServer, percentile

SYMBOL = "AAPL"
FIRST_CALL_SLACK = 0.020
WARM_P50_RATIO = 1.5
WARM_P99_RATIO = 3.0
RSS_SLACK_MIB = 20.0
USS_SLACK_MIB = 10.0


@dataclass
class Warm:
    floor: list[float]
    proxy: list[float]
    floor_memory: dict[str, float]
    proxy_memory: dict[str, float]
    failures: int
    #: The floor server on etrade-mcp's transport, and that plus one gRPC round trip per call.
    floor_our_transport: list[float]
    floor_with_hop: list[float]


def prime(socket: Path) -> None:
    """Ask the daemon for the symbol as another client would, so that it is in the cache."""
    from broker_client.client import BrokerClient

    async def ask() -> None:
        async with BrokerClient(socket, client_name="bench") as client:
            await client.get_quotes([SYMBOL])

    asyncio.run(ask())


def first_call(args: list[str], env: dict[str, str], gap: float = 0.0) -> tuple[bool, float]:
    """A fresh server's first quote call, ``gap`` seconds after the handshake."""
    server = StdioServer(args, env)
    try:
        server.initialize()
        time.sleep(gap)  # the client's user or model taking its time: part of the workload's shape
        return timed_call(server, "get_stock_quote", {"symbol": SYMBOL})
    finally:
        server.close()


def warm(proxy_args: list[str], env: dict[str, str], socket: Path, calls: int) -> Warm:
    """All four servers open, calls alternated; memory read after the last call.

    Besides the floor and etrade-mcp: the floor on etrade-mcp's transport, and that plus one gRPC
    round trip to the daemon per call, for the breakdown (see bench/floor_server.py).
    """
    servers = {
        "floor": StdioServer(FLOOR, env),
        "our transport": StdioServer([*FLOOR, "--our-transport"], env),
        "with hop": StdioServer([*FLOOR, "--grpc-hop", str(socket)], env),
        "proxy": StdioServer(proxy_args, env),
    }
    try:
        failures = 0
        for server in servers.values():
            server.initialize()
            for _ in range(20):  # past first-use work (imports, tool registration, the channel)
                ok, _ = timed_call(server, "get_stock_quote", {"symbol": SYMBOL})
                failures += 0 if ok else 1
        samples: dict[str, list[float]] = {name: [] for name in servers}
        for _ in range(calls):
            for name, server in servers.items():
                ok, elapsed = timed_call(server, "get_stock_quote", {"symbol": SYMBOL})
                failures += 0 if ok else 1
                samples[name].append(elapsed)
        return Warm(
            samples["floor"],
            samples["proxy"],
            memory_mb(servers["floor"].proc.pid),
            memory_mb(servers["proxy"].proc.pid),
            failures,
            samples["our transport"],
            samples["with hop"],
        )
    finally:
        for server in servers.values():
            server.close()


def grpc_round_trips(socket: Path, calls: int) -> tuple[list[float], list[float]]:
    """This process as a daemon client: (health-check round trips, quote round trips), seconds."""
    from broker_client.client import BrokerClient

    async def measure() -> tuple[list[float], list[float]]:
        async with BrokerClient(socket, client_name="bench") as client:
            await client.health()
            await client.get_quotes([SYMBOL])
            health: list[float] = []
            quotes: list[float] = []
            for _ in range(calls):
                began = time.perf_counter()
                await client.health()
                health.append(time.perf_counter() - began)
                began = time.perf_counter()
                await client.get_quotes([SYMBOL])
                quotes.append(time.perf_counter() - began)
            return health, quotes

    return asyncio.run(measure())


def conversion(socket: Path, calls: int) -> list[float]:
    """What the proxy does with a quote answer before the SDK sees it, timed in this process."""
    from broker_client.client import BrokerClient
    from mcp_proxy.server import quote_result
    from protos.broker.v1.market_pb2 import GetQuotesResponse

    async def one() -> GetQuotesResponse:
        async with BrokerClient(socket, client_name="bench") as client:
            return await client.get_quotes([SYMBOL])

    response = asyncio.run(one())
    samples = []
    for _ in range(calls):
        began = time.perf_counter()
        quote_result(response, SYMBOL).model_dump(mode="json")  # the SDK dumps the model once per call
        samples.append(time.perf_counter() - began)
    return samples


def profile_proxy(proxy_args: list[str], env: dict[str, str], calls: int, out: Path) -> str:
    """Run one proxy under cProfile for ``calls`` warm quote calls (start-up and the first calls left
    out, see ``bench/profiled.py``); the top entries by own time."""
    args = [sys.executable, "-m", "bench.profiled", str(out), *proxy_args[2:]]
    server = StdioServer(args, env)
    try:
        server.initialize()
        for _ in range(20):
            server.call_tool("get_stock_quote", {"symbol": SYMBOL})
        os.kill(server.proc.pid, signal.SIGUSR1)
        for _ in range(calls):
            server.call_tool("get_stock_quote", {"symbol": SYMBOL})
    finally:
        server.close()
    text = io.StringIO()
    stats = pstats.Stats(str(out), stream=text)
    stats.sort_stats("tottime").print_stats(25)
    return text.getvalue()


def line(name: str, samples: list[float]) -> str:
    return f"  {name:<24} p50 {ms(percentile(samples, 50))}   p99 {ms(percentile(samples, 99))}   (n={len(samples)})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500, help="warm calls per server")
    parser.add_argument("--first-runs", type=int, default=10, help="fresh servers per design for the first call")
    parser.add_argument("--gap", type=float, default=1.0, help="seconds between handshake and the judged first call")
    parser.add_argument("--profile", action="store_true", help="also profile a proxy's warm calls with cProfile")
    args = parser.parse_args(argv)

    print(f"etrade-mcp vs the bare SDK server (bench/floor_server.py), same client, same run; {load_average()}")
    failures = 0
    with tempfile.TemporaryDirectory(prefix="etm-bench-", dir="/tmp") as tmp, bench_system(Path(tmp)) as system:
        system.configure_emulator(latency="0", limits=None)
        prime(system.socket)
        proxy = system.proxy_args()
        first_call(FLOOR, system.env), first_call(proxy, system.env)  # warm the OS page cache for both
        floor_first: list[float] = []
        proxy_first: list[float] = []
        floor_later: list[float] = []
        proxy_later: list[float] = []
        for _ in range(args.first_runs):
            for server_args, samples, gap in (
                (FLOOR, floor_first, 0.0),
                (proxy, proxy_first, 0.0),
                (FLOOR, floor_later, args.gap),
                (proxy, proxy_later, args.gap),
            ):
                ok, elapsed = first_call(server_args, system.env, gap)
                failures += 0 if ok else 1
                samples.append(elapsed)
        result = warm(proxy, system.env, system.socket, args.calls)
        failures += result.failures
        health, quotes = grpc_round_trips(system.socket, args.calls)
        converted = conversion(system.socket, args.calls)
        profile = profile_proxy(proxy, system.env, args.calls, Path(tmp) / "proxy.prof") if args.profile else ""

    print("first get_stock_quote of a freshly started server (cached symbol), right after the handshake:")
    print(line("bare SDK server", floor_first))
    print(line("etrade-mcp", proxy_first))
    print(f"the same, sent {args.gap:g} s after the handshake (a client's first call comes when its model asks):")
    print(line("bare SDK server", floor_later))
    print(line("etrade-mcp", proxy_later))
    print("warm get_stock_quote, calls alternated between the servers:")
    print(line("bare SDK server", result.floor))
    print(line("etrade-mcp", result.proxy))
    print(line("  bare, our transport", result.floor_our_transport))
    print(line("  + 1 gRPC round trip", result.floor_with_hop))

    p50 = percentile(result.proxy, 50)
    floor_p50 = percentile(result.floor, 50)
    transport_p50 = percentile(result.floor_our_transport, 50)
    hop_p50 = percentile(result.floor_with_hop, 50)
    grpc_p50 = percentile(health, 50)
    daemon_p50 = max(0.0, percentile(quotes, 50) - grpc_p50)
    conversion_p50 = percentile(converted, 50)
    print(f"breakdown of etrade-mcp's warm p50 ({p50 * 1000:.2f} ms), each part from the same run:")
    for name, part in (
        ("SDK machinery on our transport", transport_p50),
        ("one gRPC round trip, in a server", hop_p50 - transport_p50),
        ("daemon quote work", daemon_p50),
        ("proxy conversion+validation", conversion_p50),
        ("proxy, the rest", p50 - hop_p50 - daemon_p50 - conversion_p50),
    ):
        print(f"  {name:<34} {ms(part)}")
    print(
        f"  (for scale: the SDK's own transport costs {ms(floor_p50 - transport_p50).strip()} more than ours;"
        f" a gRPC health check from a busy client loop takes {ms(grpc_p50).strip()};"
        f" the design's floor, bare + 1 gRPC round trip, is {hop_p50 / floor_p50:.2f}x the bare server)"
    )
    if profile:
        print("cProfile of one proxy's warm calls (own time):")
        print("\n".join("    " + x for x in profile.splitlines() if x.strip()))

    print("memory after the warm calls (MiB):")
    for name, m in (("bare SDK server", result.floor_memory), ("etrade-mcp", result.proxy_memory)):
        print(f"  {name:<24} RSS {m['rss']:6.1f}   PSS {m['pss']:6.1f}   USS {m['uss']:6.1f}")

    floor_first_p50, proxy_first_p50 = percentile(floor_later, 50), percentile(proxy_later, 50)
    ratio50 = p50 / floor_p50
    ratio99 = percentile(result.proxy, 99) / percentile(result.floor, 99)
    rss_over = result.proxy_memory["rss"] - result.floor_memory["rss"]
    uss_over = result.proxy_memory["uss"] - result.floor_memory["uss"]
    checks = [
        (
            f"first call {args.gap:g} s after the handshake p50 {proxy_first_p50 * 1000:.1f} ms"
            f" <= bare {floor_first_p50 * 1000:.1f} ms + 20 ms",
            proxy_first_p50 <= floor_first_p50 + FIRST_CALL_SLACK,
        ),
        (f"warm p50 {ratio50:.2f}x the bare server's <= {WARM_P50_RATIO}x", ratio50 <= WARM_P50_RATIO),
        (f"warm p99 {ratio99:.2f}x the bare server's <= {WARM_P99_RATIO}x", ratio99 <= WARM_P99_RATIO),
        (f"RSS {rss_over:+.1f} MiB over the bare server's <= +{RSS_SLACK_MIB:g}", rss_over <= RSS_SLACK_MIB),
        (f"USS {uss_over:+.1f} MiB over the bare server's <= +{USS_SLACK_MIB:g}", uss_over <= USS_SLACK_MIB),
        (f"no failed tool calls ({failures})", failures == 0),
    ]
    for text, ok in checks:
        print(f"  {verdict(ok)}  {text}")
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())
