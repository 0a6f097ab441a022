"""A daemon stopped or killed and started again keeps to the per-second limit E*TRADE counts per
consumer key, which the new daemon shares with the one that just exited (real processes).

Real time: a killed daemon leaves nothing behind to fake a clock with. The emulator's market
allowance is lowered to one request per ``WINDOW`` seconds (its bucket then holds one request), so
one quote uses the whole window and a restart — a new process, its imports, its socket, etradectl's
own start — ends well inside it. A new daemon whose limiter started full would send at once, into
that window, and the emulator would refuse; starting empty, it waits out one slot first.
"""

from __future__ import annotations

from pathlib import Path

from tests.harness.processes import System, login_with_etradectl, running_system

#: Seconds per market request at the emulator and at the daemon: far longer than a restart.
WINDOW = 4.0
LIMITS = {
    "ETRADE_MARKET_REQUESTS_PER_SECOND": str(1 / WINDOW),
    "ETRADE_MARKET_BURST": "1",
    # Every quote goes to the emulator.
    "ETRADE_QUOTE_TTL_OPEN": "0",
    "ETRADE_QUOTE_TTL_CLOSED": "0",
}


def quote_requests(system: System) -> int:
    return int(system.admin("GET", "/stats")["requests_by_route"].get("quote", 0))


def test_a_restarted_daemon_waits_out_the_window_its_predecessor_used(short_dir: Path) -> None:
    """Stopped with SIGTERM, then killed with SIGKILL: each new daemon's first quote would land in
    the window the previous daemon's quote had used."""
    with running_system(short_dir, env_extra=LIMITS) as system:
        system.admin("POST", "/config", {"rate_limits": {"market": 1 / WINDOW}})
        login_with_etradectl(system.env, system.socket)
        first = system.ctl("quote", "AAPL")
        assert first.code == 0, first.stderr
        assert quote_requests(system) == 1  # the emulator's whole window is used

        for stop, symbol in (("sigterm", "MSFT"), ("sigkill", "NVDA")):
            if stop == "sigkill":
                system.daemon.kill()  # nothing runs on the way out
            else:
                assert system.daemon.terminate() == 0
            # The session is kept in the state directory: the new daemon's first request is the quote.
            system.restart_daemon()
            again = system.ctl("quote", symbol)
            stats = system.admin("GET", "/stats")
            assert stats["rate_limited_total"] == 0, f"after {stop}, E*TRADE refused {stats['rate_limited_by_module']}"
            assert again.code == 0, again.stderr
        assert quote_requests(system) == 3
