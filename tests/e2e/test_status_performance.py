"""``etradectl status`` shows the daemon's caches and rate limits (human tables and --json)."""

from __future__ import annotations

from pathlib import Path

from cli import exit_codes
from tests.harness.processes import login_with_etradectl, running_system


def test_status_shows_cache_and_rate_limit_statistics(short_dir: Path) -> None:
    with running_system(short_dir) as system:
        login_with_etradectl(system.env, system.socket)
        assert system.ctl("quote", "AAPL").code == exit_codes.OK
        assert system.ctl("quote", "AAPL").code == exit_codes.OK

        document = system.ctl("--json", "status").json()["performance"]
        quotes = next(c for c in document["caches"] if c["name"] == "quotes")
        assert (quotes["hits"], quotes["misses"], quotes["upstream_calls"]) == (1, 1, 1)
        market = next(m for m in document["rate_limits"] if m["module"] == "market")
        assert market["granted"] == 1 and market["upstream_rate_limited"] == 0

        human = system.ctl("status")
        assert human.code == exit_codes.OK
        lines = human.stdout.splitlines()
        header = next(line for line in lines if line.startswith("CACHE"))
        assert "HITS" in header and "COALESCED" in header and "UPSTREAM" in header
        assert next(line for line in lines if line.startswith("quotes")).split()[1:4] == ["1", "1", "0"]
        assert any(line.startswith("RATE LIMIT") for line in lines)
        assert any(line.startswith("market") and "3.5" in line for line in lines)
        assert "retries: 0" in human.stdout
