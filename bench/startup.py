"""etrade-mcp start-up and warm get_stock_quote over stdio, against the SDK's floor, in one run.

Floor: bench/floor_server.py, a bare one-tool MCPServer started the same way (python -m).
Start-up = spawn → the reply to `initialize`. The proxy talks to a real daemon and emulator.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from bench.stdio_driver import StdioServer, percentile
from tests.harness.processes import login_with_etradectl, running_system

FLOOR = [sys.executable, "-m", "bench.floor_server"]


def proxy_args(socket: Path) -> list[str]:
    return [sys.executable, "-m", "mcp_proxy", "--socket", str(socket)]


def startup(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Seconds from spawn to the initialize reply, and to the first tools/list reply after it."""
    import time

    server = StdioServer(args, env)
    try:
        first = server.initialize()
        server.request("tools/list")
        return first, time.perf_counter() - server.spawned_at
    finally:
        server.close()


def warm_calls(args: list[str], env: dict[str, str], calls: int) -> tuple[float, list[float]]:
    import time

    server = StdioServer(args, env)
    try:
        server.initialize()
        began = time.perf_counter()
        server.call_tool("get_stock_quote", {"symbol": "AAPL"})
        first = time.perf_counter() - began
        samples = []
        for _ in range(calls):
            began = time.perf_counter()
            server.call_tool("get_stock_quote", {"symbol": "AAPL"})
            samples.append(time.perf_counter() - began)
        return first, samples
    finally:
        server.close()


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="start-ups per server (interleaved)")
    parser.add_argument("--calls", type=int, default=300, help="warm tool calls per server")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="etm-bench-", dir="/tmp") as tmp, running_system(Path(tmp)) as system:
        login_with_etradectl(system.env, system.socket)
        env = system.env
        proxy = proxy_args(system.socket)
        startup(FLOOR, env), startup(proxy, env)  # warm the OS page cache for both
        floor_runs: list[float] = []
        proxy_runs: list[float] = []
        floor_lists: list[float] = []
        proxy_lists: list[float] = []
        for _ in range(args.runs):
            first, listed = startup(FLOOR, env)
            floor_runs.append(first)
            floor_lists.append(listed)
            first, listed = startup(proxy, env)
            proxy_runs.append(first)
            proxy_lists.append(listed)
        floor_first, floor_warm = warm_calls(FLOOR, env, args.calls)
        proxy_first, proxy_warm = warm_calls(proxy, env, args.calls)

    f_med, p_med = statistics.median(floor_runs), statistics.median(proxy_runs)
    print(f"start-up (spawn -> initialize reply), median of {args.runs}, interleaved:")
    print(f"  floor (bare MCPServer)  {ms(f_med)}   p90 {ms(percentile(floor_runs, 90))}")
    print(f"  etrade-mcp              {ms(p_med)}   p90 {ms(percentile(proxy_runs, 90))}")
    ratio = p_med / f_med
    print(f"  etrade-mcp / floor      {ratio:7.3f}   (bar: <= 1.15)  {'PASS' if ratio <= 1.15 else 'FAIL'}")
    # etrade-mcp registers its tools on the first tools/list; this shows what that costs.
    fl_med, pl_med = statistics.median(floor_lists), statistics.median(proxy_lists)
    print("spawn -> first tools/list reply (includes etrade-mcp's deferred tool registration):")
    print(f"  floor {ms(fl_med)}   etrade-mcp {ms(pl_med)}   ratio {pl_med / fl_med:.3f}")
    print(f"get_stock_quote over stdio, first call then {args.calls} warm calls:")
    for name, first, warm in (("floor", floor_first, floor_warm), ("etrade-mcp", proxy_first, proxy_warm)):
        print(f"  {name:<11} first {ms(first)}   p50 {ms(percentile(warm, 50))}   p99 {ms(percentile(warm, 99))}")
    return 0 if ratio <= 1.15 else 1


if __name__ == "__main__":
    raise SystemExit(main())
