"""`etradectl --help` against `etrade-mcp`'s start-up, in one run: the CLI must start in under half the time.

etradectl: spawn → exit of `etradectl --help` (parser built, help printed).
etrade-mcp: spawn → the reply to `initialize` over stdio (what an MCP client waits for). The proxy
needs no daemon to answer `initialize`, so none is started. Both run the installed console scripts
of this environment, interleaved, after one warm-up each (page cache).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.stdio_driver import StdioServer, percentile

BIN = Path(sys.executable).parent
BAR = 0.5


def help_time(env: dict[str, str]) -> float:
    began = time.perf_counter()
    subprocess.run([str(BIN / "etradectl"), "--help"], env=env, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - began


def proxy_time(env: dict[str, str], socket: Path) -> float:
    server = StdioServer([str(BIN / "etrade-mcp"), "--socket", str(socket)], env)
    try:
        return server.initialize()
    finally:
        server.close()


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="start-ups of each (interleaved)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="etm-bench-", dir="/tmp") as tmp:
        env = {**os.environ, "NO_COLOR": "1", "HOME": tmp}
        socket = Path(tmp) / "none.sock"
        help_time(env), proxy_time(env, socket)  # warm the page cache for both
        cli_runs: list[float] = []
        proxy_runs: list[float] = []
        for _ in range(args.runs):
            cli_runs.append(help_time(env))
            proxy_runs.append(proxy_time(env, socket))

    c_med, p_med = statistics.median(cli_runs), statistics.median(proxy_runs)
    ratio = c_med / p_med
    print(f"start-up, median of {args.runs}, interleaved:")
    print(f"  etradectl --help (spawn -> exit)               {ms(c_med)}   p90 {ms(percentile(cli_runs, 90))}")
    print(f"  etrade-mcp (spawn -> initialize reply)         {ms(p_med)}   p90 {ms(percentile(proxy_runs, 90))}")
    print(
        f"  etradectl / etrade-mcp                         {ratio:7.3f}   (bar: < {BAR})  {'PASS' if ratio < BAR else 'FAIL'}"
    )
    return 0 if ratio < BAR else 1


if __name__ == "__main__":
    raise SystemExit(main())
