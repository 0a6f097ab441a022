"""The benchmarks of etrade-mcp against the bare SDK server and the soak run end to end in their short modes.

What is checked is that they run, drive real processes and print their verdicts; never a figure
(the bars are for ``make bench`` on a quiet machine, not for tests).
"""

from __future__ import annotations

import re

import pytest

from bench import proxy_bars, soak

VERDICT = re.compile(r"^\s+(PASS|FAIL)\s+\S", re.MULTILINE)


def test_proxy_bars_short_mode_prints_every_verdict(capsys: pytest.CaptureFixture[str]) -> None:
    proxy_bars.main(["--calls", "5", "--first-runs", "1", "--gap", "0.1"])
    out = capsys.readouterr().out
    assert "breakdown of etrade-mcp's warm p50" in out
    assert len(VERDICT.findall(out)) == 6
    assert "PASS  no failed tool calls (0)" in out


def test_soak_short_mode_drives_proxies_through_faults_and_a_restart(capsys: pytest.CaptureFixture[str]) -> None:
    soak.main(["--duration", "3", "--fault-duration", "3", "--proxies", "2", "--think-ms", "200", "--recovery", "30"])
    out = capsys.readouterr().out
    assert "load phase (" in out and "fault phase (" in out
    assert "PASS  load: every proxy made calls (0 made none)" in out
    assert "PASS  faults: every call answered (0 unanswered)" in out
    assert "PASS  faults: 2/2 proxies serve again within 30 s, none restarted" in out
    assert "PASS  faults: the audit log verifies" in out
