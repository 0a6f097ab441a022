"""Where a proxy's resident memory goes: the layers of etrade-mcp, against the SDK's own floor.

A proxy's memory is barred against the SDK's own floor, measured in the same run: RSS at most
the bare one-tool server's + 20 MiB, USS (its private pages) at most + 10 MiB. (An older bar of
70 MB RSS was below that floor.) This script explains the figures layer by layer:

1. import layers, each in a fresh interpreter, cumulative: the interpreter, pydantic, the SDK's
   wire types (both protocol eras), the SDK's server package (which also loads its HTTP transports'
   dependencies), etrade-mcp's server built with every tool, then grpcio and the daemon client;
2. what each HTTP-only dependency that ``mcp.server`` imports costs on top of the wire types,
   measured alone (they overlap, so the figures do not add up);
3. live processes against one emulator + daemon: the SDK floor (``bench/floor_server.py``, one tool)
   and etrade-mcp, after ``initialize`` (etrade-mcp's live-updates follower starts loading grpc in
   the background from then on, so that figure varies), after ``tools/list`` and after 100 warm
   quote calls (the figure the bar is about).

RSS counts shared-library pages in full in every process that maps them; PSS splits them among the
processes. Both are printed for the live processes.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.harness import bench_system, load_average, memory_mb, verdict
from bench.startup import FLOOR
from bench.stdio_driver import StdioServer

RSS_SLACK_MIB = 20.0
USS_SLACK_MIB = 10.0
MIB = 1.048576  # MB per MiB

_RSS = "int(next(l for l in open('/proc/self/status') if l.startswith('VmRSS')).split()[1]) / 1024"

#: Cumulative import layers: (label, Python statements run after the previous layers').
LAYERS: list[tuple[str, str]] = [
    ("interpreter", "pass"),
    ("+ pydantic", "import pydantic"),
    ("+ SDK wire types (mcp_types, both eras)", "import mcp_types"),
    ("+ SDK server package (mcp.server)", "import mcp.server, mcp.server.stdio"),
    (
        "+ etrade-mcp server, every tool registered",
        "from mcp_proxy.server import DaemonLink, build_server; build_server(DaemonLink('/nonexistent'))",
    ),
    ("+ grpcio", "import grpc, grpc.aio"),
    ("+ daemon client and generated protos", "import broker_client.client"),
]

#: Packages ``mcp.server`` imports that only its HTTP transports (or auth) use.
HTTP_ONLY = [
    "uvicorn",
    "starlette.applications",
    "sse_starlette",
    "httpx2",
    "cryptography.hazmat.primitives.ciphers.aead",
]


def rss_after(statements: str) -> float:
    """RSS (MiB) of a fresh interpreter after running ``statements``."""
    code = f"{statements}\nprint({_RSS})"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return float(out.strip().splitlines()[-1])


def import_layers() -> list[tuple[str, float]]:
    figures = []
    statements: list[str] = []
    for label, statement in LAYERS:
        statements.append(statement)
        figures.append((label, rss_after("\n".join(statements))))
    return figures


def http_only_costs(base: float) -> list[tuple[str, float]]:
    return [(name, rss_after(f"import mcp_types\nimport {name}") - base) for name in HTTP_ONLY]


def live_processes() -> dict[str, dict[str, dict[str, float]]]:
    """RSS/PSS/USS of the floor and of etrade-mcp at three moments, against one daemon."""
    figures: dict[str, dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="etm-bench-", dir="/tmp") as tmp, bench_system(Path(tmp)) as system:
        for name, args in (("SDK floor (one tool)", FLOOR), ("etrade-mcp", system.proxy_args())):
            server = StdioServer(args, system.env)
            try:
                stages = figures[name] = {}
                server.initialize()
                # etrade-mcp starts loading grpc in the background once initialize is answered (its
                # live-updates follower), so this figure depends on how far that has got.
                stages["after initialize"] = memory_mb(server.proc.pid)
                server.request("tools/list")
                stages["after tools/list"] = memory_mb(server.proc.pid)
                for i in range(100):
                    server.call_tool("get_stock_quote", {"symbol": ("AAPL", "MSFT", "NVDA", "SPY")[i % 4]})
                stages["after 100 quote calls"] = memory_mb(server.proc.pid)
            finally:
                server.close()
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    print(f"proxy memory, layer by layer (MiB; 1 MiB = {MIB} MB); {load_average()}")

    print("\nimport layers (fresh interpreter each, cumulative):")
    layers = import_layers()
    previous = 0.0
    for label, rss in layers:
        print(f"  {label:<45} RSS {rss:5.1f}   (+{rss - previous:4.1f})")
        previous = rss
    wire_types = layers[2][1]
    print("\nHTTP-only dependencies mcp.server imports, each alone on top of the wire types (they overlap):")
    for name, cost in http_only_costs(wire_types):
        print(f"  {name:<45} +{cost:4.1f}")

    print("\nlive processes (MiB):")
    live = live_processes()
    for name, stages in live.items():
        for stage, m in stages.items():
            print(f"  {name:<22} {stage:<22} RSS {m['rss']:5.1f}   PSS {m['pss']:5.1f}   USS {m['uss']:5.1f}")
    floor = live["SDK floor (one tool)"]["after 100 quote calls"]
    proxy = live["etrade-mcp"]["after 100 quote calls"]
    rss_over, uss_over = proxy["rss"] - floor["rss"], proxy["uss"] - floor["uss"]
    checks = [
        (
            f"etrade-mcp RSS {rss_over:+.1f} MiB over the SDK floor's <= +{RSS_SLACK_MIB:g} MiB",
            rss_over <= RSS_SLACK_MIB,
        ),
        (
            f"etrade-mcp USS {uss_over:+.1f} MiB over the SDK floor's <= +{USS_SLACK_MIB:g} MiB",
            uss_over <= USS_SLACK_MIB,
        ),
    ]
    print()
    for text, ok in checks:
        print(f"  {verdict(ok)}  {text}")
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())
