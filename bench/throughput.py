"""Daemon throughput: cached GetQuotes RPCs per second with 8 concurrent clients.

Each client is its own process (as 8 MCP proxies would be) using ``daemon.client.BrokerClient``,
the client the proxy and the CLI use, calling GetQuotes for one cached symbol in a closed loop for
a fixed time after a common start instant. The quote TTL is raised for this run so that every call
measures the cached path, which is what the bar is about; the clients and the daemon share the
machine's cores.

For comparison, the naive design has no shared server to measure: each of its processes answers
only its own client, at E*TRADE's speed (one request per 80-150 ms here, and E*TRADE allows 4 per
second per consumer key in all).

Bar (issue 5): >= 2,000 cached quote RPCs per second with 8 concurrent clients.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.harness import REALISTIC_LATENCY, bench_system, cpu_seconds, load_average, rss_mb, verdict

CLIENT = """
import asyncio, sys, time
from daemon.client import BrokerClient

async def main(socket, start_at, seconds):
    async with BrokerClient(socket, client_name="bench") as client:
        await client.get_quotes(["AAPL"])  # connect before the start
        await asyncio.sleep(max(0.0, start_at - time.time()))
        calls, end = 0, start_at + seconds
        while time.time() < end:
            response = await client.get_quotes(["AAPL"])
            assert response.quotes
            calls += 1
        print(calls)

asyncio.run(main(sys.argv[1], float(sys.argv[2]), float(sys.argv[3])))
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3, help="measurements; the median is judged")
    args = parser.parse_args(argv)

    print(f"{args.clients} client processes, {args.seconds:g} s per round; {load_average()}")
    rates: list[float] = []
    with (
        tempfile.TemporaryDirectory(prefix="etm-bench-", dir="/tmp") as tmp,
        bench_system(Path(tmp), ETRADE_QUOTE_TTL_OPEN="3600", ETRADE_QUOTE_TTL_CLOSED="3600") as system,
    ):
        system.configure_emulator(latency=REALISTIC_LATENCY, limits=None)
        pid = system.daemon.popen.pid
        for round_number in range(1, args.rounds + 1):
            cpu_before = cpu_seconds(pid)
            start_at = time.time() + 1.5  # every client connected and warm by then
            clients = [
                subprocess.Popen(
                    [sys.executable, "-c", CLIENT, str(system.socket), str(start_at), str(args.seconds)],
                    stdout=subprocess.PIPE,
                    text=True,
                    env=system.env,
                )
                for _ in range(args.clients)
            ]
            calls = sum(int(client.communicate(timeout=120)[0]) for client in clients)
            daemon_cpu = cpu_seconds(pid) - cpu_before
            rate = calls / args.seconds
            rates.append(rate)
            print(
                f"  round {round_number}: {calls} calls in {args.seconds:g} s = {rate:7.0f} RPC/s"
                f"   (daemon CPU {daemon_cpu / calls * 1e6:.0f} us per call)"
            )
        upstream = system.emulator_stats()["requests_by_route"].get("quote", 0)
        daemon_rss = rss_mb(pid)

    median = sorted(rates)[len(rates) // 2]
    print(f"median {median:.0f} RPC/s; upstream quote requests during all rounds: {upstream}")
    print(f"daemon resident memory after the run: {daemon_rss:.1f} MiB")
    ok = median >= 2000
    print(f"  {verdict(ok)}  cached quote RPCs with {args.clients} clients: {median:.0f}/s >= 2,000/s")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
