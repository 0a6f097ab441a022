"""``make bench``: run every benchmark script and print its figures; exit non-zero if a bar is missed."""

from __future__ import annotations

import importlib
import sys

SCRIPTS = [
    "bench.startup",
    "bench.cli_startup",
    "bench.quote_latency",
    "bench.throughput",
    "bench.upstream_efficiency",
    "bench.proxy_memory",
    "bench.proxy_bars",
    "bench.soak",
]


def main() -> int:
    failed = []
    for name in SCRIPTS:
        print(f"\n### {name}", flush=True)
        code = importlib.import_module(name).main([])
        if code:
            failed.append(name)
    if failed:
        print(f"\nbars missed by: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
