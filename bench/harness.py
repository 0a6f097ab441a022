"""What the benchmarks share: the system under test as real processes, the naive baseline's
setup, the emulator's admin interface, resident memory, and PASS/FAIL lines.

Every benchmark runs the emulator with E*TRADE-like latency (80-150 ms per response by default)
and measures our proxy + daemon and the naive baseline (``bench/naive_server.py``) against the
same emulator, in the same run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.stdio_driver import StdioServer
from daemon.upstream import ConsumerCredentials, Endpoints, EtradeHttp
from emulator import DEFAULT_CONSUMER_KEY, DEFAULT_CONSUMER_SECRET
from emulator.local_system import Proc, child_env, login_with_etradectl, read_verifier, start_daemon, start_emulator

#: E*TRADE's published limits, requests per second per consumer key and module.
ETRADE_LIMITS = {"market": 4, "accounts": 2, "orders": 2}
REALISTIC_LATENCY = "80-150"


@dataclass
class BenchSystem:
    """Emulator + daemon as child processes, logged in, plus what the naive baseline needs."""

    home: Path
    env: dict[str, str]
    socket: Path
    emulator: Proc
    emulator_url: str
    daemon: Proc

    def admin(self, path: str, body: dict[str, Any] | None = None) -> Any:
        """GET (or POST ``body`` to) the emulator's ``/_emulator/<path>``."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.emulator_url}/_emulator/{path}", data=data, method="POST" if data else "GET"
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"null")

    def clear_faults(self) -> None:
        """Remove every injected fault (``DELETE /_emulator/faults``)."""
        request = urllib.request.Request(f"{self.emulator_url}/_emulator/faults", method="DELETE")
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()

    def configure_emulator(self, *, latency: str, limits: dict[str, int] | None) -> None:
        self.admin("config", {"latency_ms": latency, "rate_limits": limits})

    def emulator_stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = self.admin("stats")
        return stats

    def reset_emulator_stats(self) -> None:
        self.admin("stats/reset", {})

    def proxy_args(self) -> list[str]:
        return [sys.executable, "-m", "mcp_proxy", "--socket", str(self.socket)]

    def naive_args(self) -> list[str]:
        return [sys.executable, "-m", "bench.naive_server"]

    def naive_env(self, requests_per_minute: int) -> dict[str, str]:
        """The naive server's configuration, as the implementation plan's config.py reads it."""
        return {
            **self.env,
            "ETRADE_CONSUMER_KEY": DEFAULT_CONSUMER_KEY,
            "ETRADE_CONSUMER_SECRET": DEFAULT_CONSUMER_SECRET,
            "ETRADE_BASE_URL": self.emulator_url,
            "ETRADE_TOKEN_FILE": str(self.home / "naive-tokens.json"),
            "ETRADE_REQUESTS_PER_MINUTE": str(requests_per_minute),
        }


@contextmanager
def bench_system(home: Path, **daemon_settings: str) -> Iterator[BenchSystem]:
    """Start the emulator (no latency or limits yet) and the daemon, log both designs in.

    ``daemon_settings`` are ``ETRADE_*`` variables for the daemon (e.g. a forced quote TTL).
    """
    env = child_env(home, **daemon_settings)
    socket = home / "sock" / "broker.sock"
    emulator, url = start_emulator(env)
    daemon: Proc | None = None
    system: BenchSystem | None = None
    try:
        daemon = start_daemon(env, socket, url)
        system = BenchSystem(home, env, socket, emulator, url, daemon)
        login_with_etradectl(env, socket)
        naive_setup_oauth(url, home / "naive-tokens.json")
        yield system
    finally:
        if daemon is not None:
            daemon.kill()
        if system is not None and system.daemon is not daemon:
            system.daemon.kill()  # a benchmark restarted it
        emulator.kill()


def naive_setup_oauth(base_url: str, token_file: Path) -> None:
    """The plan's one-time ``setup_oauth`` script: OAuth out of band, tokens to a 0600 file."""
    http = EtradeHttp(Endpoints.emulator(base_url), timeout=10)
    consumer = ConsumerCredentials(DEFAULT_CONSUMER_KEY, DEFAULT_CONSUMER_SECRET)
    request = http.request_token(consumer)
    access = http.access_token(consumer, request, read_verifier(http.authorize_url(consumer, request)))
    token_file.write_text(json.dumps({"access_token": access.token, "access_token_secret": access.secret}))
    token_file.chmod(0o600)


def rss_mb(pid: int) -> float:
    """Resident memory of a process (VmRSS), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def memory_mb(pid: int) -> dict[str, float]:
    """RSS, PSS (shared pages divided among their users) and USS (private pages only), in MiB."""
    values: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == "kB":
            values[parts[0].rstrip(":")] = int(parts[1]) / 1024
    return {
        "rss": values["Rss"],
        "pss": values["Pss"],
        "uss": values["Private_Clean"] + values["Private_Dirty"],
        "shared": values["Shared_Clean"] + values["Shared_Dirty"],
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load_average() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.2f} ms"


def git_revision() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5
        ).stdout.strip()
    except OSError:
        return "?"


def timed_call(server: StdioServer, tool: str, arguments: dict[str, Any]) -> tuple[bool, float]:
    """One tool call: whether it answered without a tool error, and how long it took (s)."""
    began = time.perf_counter()
    reply = server.request("tools/call", {"name": tool, "arguments": arguments})
    elapsed = time.perf_counter() - began
    ok = "error" not in reply and not reply.get("result", {}).get("isError")
    return ok, elapsed
