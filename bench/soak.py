"""Load, soak and faults: many etrade-mcp proxies making mixed calls against the emulator with E*TRADE's limits on.

Loopback only, bounded in time and count; the run stops by itself. Two phases, one system:

1. load (``--duration``, default 5 minutes): ``--proxies`` (50) real etrade-mcp processes over stdio,
   each calling in a loop with a think time: quotes over 200 symbols (one and five at a time),
   accounts, balances, portfolios, resources (account summary, positions, session status) and
   portfolio analytics. The emulator has E*TRADE-like latency and E*TRADE's published rate limits.
2. faults (``--fault-duration``, default 90 s): the same load plus order previews (trading on, so
   the order journal is written under faults) while the emulator answers 5xx, holds answers past
   the daemon's upstream timeout, adds 2 s latency spikes, and the daemon is stopped and started
   twice. Then every proxy must serve a quote again (no proxy restarted), and
   the daemon's audit log must verify (``etradectl audit verify``).

Bars, load phase: no failed call other than an honest RATE_LIMITED; 0 requests refused by the
emulator's rate limiter (upstream violations); daemon RSS growth <= 5 % from minute 1 (or a fifth
of a shorter phase) to the end; daemon RSS <= 80 MB at the end. Fault phase: every call answered
(a result or an error with its code), 0 upstream violations, every proxy serving again within
``--recovery`` seconds, the audit log verified. p50/p99 are printed per tool and phase.
"""

from __future__ import annotations

import argparse
import random
import re
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.harness import ETRADE_LIMITS, REALISTIC_LATENCY, BenchSystem, bench_system, load_average, rss_mb, verdict
from bench.stdio_driver import StdioServer, percentile
from emulator import universe
from emulator.local_system import etradectl, start_daemon

MB_PER_MIB = 1.048576
DAEMON_RSS_BAR_MB = 80.0
RSS_GROWTH_BAR = 0.05
UPSTREAM_TIMEOUT_S = 3  # the daemon's, lowered so that a held answer is a timeout within the phase
CALL_TIMEOUT_S = 60.0
SPAWN_BATCH = 5
_CODE = re.compile(r"\[([A-Z][A-Z0-9_]*)\]\s*$")

#: (kind, weight): how often each kind of call is made.
MIX: list[tuple[str, int]] = [
    ("get_stock_quote", 40),
    ("get_multiple_quotes", 10),
    ("list_accounts", 8),
    ("get_account_balance", 8),
    ("get_portfolio", 8),
    ("resources/read", 12),
    ("analyze_portfolio", 3),
]
#: The fault phase adds order previews, so that the order journal has entries written under faults.
#: Not in the load phase: fifty clients previewing two orders a second for minutes is no real load,
#: and the daemon keeps each pending order for its confirmation TTL (5 minutes) and an hour after,
#: by design, so its memory would grow with that rate for the whole phase.
FAULT_MIX: list[tuple[str, int]] = [*MIX, ("preview_order", 4)]


@dataclass
class Record:
    proxy: int
    at: float  # perf_counter when the answer came
    phase: str
    kind: str
    answered: bool
    code: str | None  # None: a result; else the error's code (RATE_LIMITED, ...), JSONRPC_<n> or UNCODED
    elapsed: float


@dataclass
class Shared:
    """What the driver threads read: the phase now, and when to stop."""

    phase: str = "load"
    stop: threading.Event = field(default_factory=threading.Event)
    records: list[Record] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def classify(reply: dict[str, Any]) -> str | None:
    if "error" in reply:  # resources answer the daemon's errors as JSON-RPC errors, the code in the text
        match = _CODE.search(str(reply["error"].get("message", "")))
        return match.group(1) if match else f"JSONRPC_{reply['error'].get('code')}"
    result = reply.get("result", {})
    if not result.get("isError"):
        return None
    text = " ".join(block.get("text", "") for block in result.get("content", []))
    match = _CODE.search(text)
    return match.group(1) if match else "UNCODED"


class Workload:
    """Picks the next call of a proxy: its JSON-RPC method and params."""

    def __init__(
        self, seed: int, known: list[str], symbols: list[str], accounts: list[str], prices: dict[str, float]
    ) -> None:
        self.rng = random.Random(seed)
        self.known = known
        self.symbols = symbols
        self.accounts = accounts
        self.prices = prices

    def next(self, phase: str) -> tuple[str, str, dict[str, Any]]:
        mix = FAULT_MIX if phase == "faults" else MIX
        kind = self.rng.choices([k for k, _ in mix], [w for _, w in mix])[0]
        account = self.rng.choice(self.accounts)
        if kind == "resources/read":
            uri = self.rng.choice(
                [f"account://{account}/summary", f"portfolio://{account}/positions", "etrade://session/status"]
            )
            return kind, "resources/read", {"uri": uri}
        arguments: dict[str, Any]
        if kind == "get_stock_quote":
            arguments = {"symbol": self.rng.choice(self.known)}
        elif kind == "get_multiple_quotes":
            arguments = {"symbols": self.rng.sample(self.symbols, 5)}
        elif kind == "list_accounts":
            arguments = {}
        elif kind == "preview_order":
            symbol = self.rng.choice(sorted(self.prices))
            arguments = {
                "account_id_key": account,
                "symbol": symbol,
                "order_action": "BUY",
                "quantity": 1,
                "price_type": "LIMIT",
                "limit_price": round(self.prices[symbol] * 0.98, 2),
            }
        else:
            arguments = {"account_id_key": account}
        return kind, "tools/call", {"name": kind, "arguments": arguments}


def drive(index: int, server: StdioServer, workload: Workload, shared: Shared, think: float) -> None:
    while not shared.stop.is_set():
        phase = shared.phase
        kind, method, params = workload.next(phase)
        began = time.perf_counter()
        try:
            reply = server.request(method, params, timeout=CALL_TIMEOUT_S)
            now = time.perf_counter()
            record = Record(index, now, phase, kind, True, classify(reply), now - began)
        except (TimeoutError, EOFError, OSError):
            now = time.perf_counter()
            record = Record(index, now, phase, kind, False, "UNANSWERED", now - began)
        with shared.lock:
            shared.records.append(record)
        if record.code == "UNANSWERED":
            return  # this proxy is gone or stuck; counted, not retried
        shared.stop.wait(workload.rng.uniform(0.5, 1.5) * think)


def restart_daemon(system: BenchSystem) -> float:
    """Stop the daemon and start another; returns when the new one listens (perf_counter)."""
    system.daemon.terminate()
    system.daemon = start_daemon(system.env, system.socket, system.emulator_url)
    return time.perf_counter()


def fault_schedule(system: BenchSystem, duration: float, stop: threading.Event, restarts: list[float]) -> list[str]:
    """Faults spread over the phase; returns what was done, in order (``restarts``: when each new daemon listened)."""
    timeout_ms = (UPSTREAM_TIMEOUT_S + 2) * 1000
    steps: list[tuple[str, dict[str, Any] | None]] = [
        ("5xx on quotes", {"match": "/v1/market/quote", "status": 503, "count": 6}),
        ("2 s latency on accounts", {"match": "/v1/accounts", "latency_ms": 2000, "count": 8}),
        ("daemon restart", None),
        ("timeouts on quotes", {"match": "/v1/market/quote", "latency_ms": timeout_ms, "count": 3}),
        ("5xx on accounts", {"match": "/v1/accounts", "status": 500, "count": 6}),
        ("2 s latency on quotes", {"match": "/v1/market/quote", "latency_ms": 2000, "count": 8}),
        ("daemon restart", None),
        ("timeouts on accounts", {"match": "/v1/accounts", "latency_ms": timeout_ms, "count": 3}),
    ]
    done: list[str] = []
    began = time.perf_counter()
    for index, (name, spec) in enumerate(steps):
        if stop.wait(max(0.0, began + duration * index / len(steps) - time.perf_counter())):
            break
        if spec is None:
            restarts.append(restart_daemon(system))
        else:
            system.admin("faults", spec)
        done.append(name)
    return done


def recovery(servers: list[StdioServer], within: float) -> int:
    """How many proxies answer a quote again within ``within`` seconds (each tried in turn)."""
    deadline = time.perf_counter() + within
    serving = 0
    for server in servers:
        while True:
            try:
                reply = server.request(
                    "tools/call", {"name": "get_stock_quote", "arguments": {"symbol": "AAPL"}}, timeout=within
                )
            except (TimeoutError, EOFError, OSError):
                break
            if classify(reply) is None:
                serving += 1
                break
            if time.perf_counter() >= deadline:
                break
            time.sleep(0.2)  # pacing between attempts, not synchronisation
    return serving


def recovery_delays(records: list[Record], restarts: list[float], proxies: int) -> list[float | None]:
    """Per restart: seconds from the new daemon listening until the slowest proxy's first success after
    it (None: some proxy had none before the next restart or the end)."""
    delays: list[float | None] = []
    for index, restarted in enumerate(restarts):
        until = restarts[index + 1] if index + 1 < len(restarts) else float("inf")
        firsts: dict[int, float] = {}
        for record in records:
            if record.code is None and restarted <= record.at < until and record.proxy not in firsts:
                firsts[record.proxy] = record.at
        delays.append(max(firsts.values()) - restarted if len(firsts) == proxies else None)
    return delays


def table(records: list[Record]) -> list[str]:
    by_kind: dict[str, list[Record]] = defaultdict(list)
    for record in records:
        by_kind[record.kind].append(record)
    lines = [f"  {'call':<22} {'n':>6} {'ok':>6} {'p50 ms':>8} {'p99 ms':>8}  errors"]
    for kind in [k for k, _ in FAULT_MIX]:
        rows = by_kind.get(kind, [])
        if not rows:
            continue
        samples = [r.elapsed for r in rows]
        errors = Counter(r.code for r in rows if r.code is not None)
        text = ", ".join(f"{code} {n}" for code, n in errors.most_common()) or "-"
        lines.append(
            f"  {kind:<22} {len(rows):6d} {len(rows) - sum(errors.values()):6d}"
            f" {percentile(samples, 50) * 1000:8.1f} {percentile(samples, 99) * 1000:8.1f}  {text}"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=300.0, help="seconds of the load phase (default 300)")
    parser.add_argument("--fault-duration", type=float, default=90.0, help="seconds of the fault phase (0: none)")
    parser.add_argument("--proxies", type=int, default=50, help="concurrent etrade-mcp processes")
    parser.add_argument("--symbols", type=int, default=200, help="distinct symbols quoted")
    parser.add_argument("--think-ms", type=float, default=500.0, help="mean pause between a proxy's calls")
    parser.add_argument("--recovery", type=float, default=5.0, help="seconds every proxy has to serve again")
    parser.add_argument("--latency", default=REALISTIC_LATENCY, help="emulator latency in ms")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    known = list(universe.UNIVERSE)[: args.symbols]
    # The emulator knows fewer symbols than a watchlist-heavy user asks about; the rest are well-formed
    # tickers it does not know, asked only in batches, where each comes back as a per-symbol error.
    unknown = [f"ZX{chr(65 + i // 26)}{chr(65 + i % 26)}" for i in range(max(0, args.symbols - len(known)))]
    symbols = known + unknown
    print(
        f"{args.proxies} proxies, load {args.duration:g} s then faults {args.fault_duration:g} s,"
        f" {len(symbols)} symbols, think {args.think_ms:g} ms, emulator latency {args.latency} ms,"
        f" E*TRADE limits {ETRADE_LIMITS}; {load_average()}"
    )
    settings = {"ETRADE_READ_ONLY": "false", "ETRADE_UPSTREAM_TIMEOUT": str(UPSTREAM_TIMEOUT_S)}
    with (
        tempfile.TemporaryDirectory(prefix="etm-soak-", dir="/tmp") as tmp,
        bench_system(Path(tmp), **settings) as system,
    ):
        system.configure_emulator(latency=args.latency, limits=ETRADE_LIMITS)
        servers: list[StdioServer] = []
        try:
            # A few at a time: fifty interpreters importing at once on two cores would starve the first
            # handshakes past any sensible timeout.
            for start in range(0, args.proxies, SPAWN_BATCH):
                batch = [
                    StdioServer(system.proxy_args(), system.env)
                    for _ in range(start, min(args.proxies, start + SPAWN_BATCH))
                ]
                servers.extend(batch)
                for server in batch:
                    server.initialize(timeout=CALL_TIMEOUT_S)
            first = servers[0]
            accounts_reply = first.call_tool("list_accounts", {})
            accounts = [a["account_id_key"] for a in accounts_reply["result"]["structuredContent"]["accounts"]]
            prices: dict[str, float] = {}
            for symbol in ("AAPL", "MSFT", "SPY"):
                quote = first.call_tool("get_stock_quote", {"symbol": symbol})["result"]["structuredContent"]
                prices[symbol] = float(quote["last_trade"])
            system.reset_emulator_stats()

            shared = Shared()
            threads = [
                threading.Thread(
                    target=drive,
                    args=(
                        i,
                        s,
                        Workload(args.seed * 1000 + i, known, symbols, accounts, prices),
                        shared,
                        args.think_ms / 1000,
                    ),
                    daemon=True,
                )
                for i, s in enumerate(servers)
            ]
            began = time.perf_counter()
            for thread in threads:
                thread.start()
            baseline_at = began + min(60.0, args.duration / 5)
            shared.stop.wait(max(0.0, baseline_at - time.perf_counter()))
            rss_start = rss_mb(system.daemon.popen.pid)
            rss_samples = [rss_start]
            while (left := began + args.duration - time.perf_counter()) > 0:
                shared.stop.wait(min(10.0, left))
                rss_samples.append(rss_mb(system.daemon.popen.pid))
            rss_end = rss_samples[-1]
            load_stats = system.emulator_stats()

            done: list[str] = []
            restarts: list[float] = []
            if args.fault_duration > 0:
                shared.phase = "faults"
                done = fault_schedule(system, args.fault_duration, shared.stop, restarts)
                shared.stop.wait(max(0.0, began + args.duration + args.fault_duration - time.perf_counter()))
            shared.stop.set()
            for thread in threads:
                thread.join(CALL_TIMEOUT_S + 5)
            system.clear_faults()
            stats = system.emulator_stats()
            serving = recovery(servers, args.recovery) if args.fault_duration > 0 else len(servers)
            audit = etradectl(system.env, system.socket, "audit", "verify")
            final_rss = rss_mb(system.daemon.popen.pid)
        finally:
            for server in servers:
                server.close()

    load = [r for r in shared.records if r.phase == "load"]
    faults = [r for r in shared.records if r.phase == "faults"]
    print(f"\nload phase ({len(load)} calls, {len(load) / args.duration:.1f} calls/s):")
    print("\n".join(table(load)))
    load_failed = Counter(r.code for r in load if r.code not in (None, "RATE_LIMITED"))
    violations_load = load_stats["rate_limited_total"]
    growth = (rss_end - rss_start) / rss_start
    print(f"  upstream requests {load_stats['requests_total']}, refused by E*TRADE's limits {violations_load}")
    print(
        f"  daemon RSS (MiB) at {baseline_at - began:.0f} s {rss_start:.1f}, at the end {rss_end:.1f}"
        f" (growth {growth * 100:+.1f} %); samples {[round(x, 1) for x in rss_samples]}"
    )
    silent = args.proxies - len({r.proxy for r in load})
    checks = [
        (f"load: every proxy made calls ({silent} made none)", silent == 0),
        (f"load: no failed call other than RATE_LIMITED ({dict(load_failed) or 0})", not load_failed),
        (f"load: 0 upstream rate-limit violations ({violations_load})", violations_load == 0),
        (f"load: daemon RSS growth {growth * 100:+.1f} % <= 5 %", growth <= RSS_GROWTH_BAR),
        (
            f"load: daemon RSS {rss_end * MB_PER_MIB:.1f} MB <= {DAEMON_RSS_BAR_MB:g} MB at the end",
            rss_end * MB_PER_MIB <= DAEMON_RSS_BAR_MB,
        ),
    ]
    if args.fault_duration > 0:
        print(f"\nfault phase ({len(faults)} calls; {', '.join(done)}):")
        print("\n".join(table(faults)))
        unanswered = sum(1 for r in faults if r.code == "UNANSWERED")
        uncoded = sum(1 for r in faults if r.code is not None and (r.code == "UNCODED" or r.code.startswith("JSONRPC")))
        violations = stats["rate_limited_total"]
        print(
            f"  faults injected at the emulator: {stats['faults_injected']}; daemon restarts: {done.count('daemon restart')}"
        )
        delays = recovery_delays(faults, restarts, len(servers))
        shown = ", ".join("never" if d is None else f"{d:.1f} s" for d in delays)
        print(f"  after each daemon restart, every proxy had a call succeed within: {shown}")
        print(f"  daemon RSS after the run (restarted daemon): {final_rss:.1f} MiB")
        print(f"  audit verify: exit {audit.code}: {(audit.stdout or audit.stderr).strip().splitlines()[-1:]}")
        checks += [
            (f"faults: every call answered ({unanswered} unanswered)", unanswered == 0),
            (f"faults: every error carries its code ({uncoded} without)", uncoded == 0),
            (
                f"faults: 0 upstream rate-limit violations over the run ({violations}"
                f"{', by module ' + str(stats['rate_limited_by_module']) if violations else ''})",
                violations == 0,
            ),
            (
                f"faults: {serving}/{len(servers)} proxies serve again within {args.recovery:g} s, none restarted",
                serving == len(servers),
            ),
            ("faults: the audit log verifies", audit.code == 0),
        ]
    for text, ok in checks:
        print(f"  {verdict(ok)}  {text}")
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())
