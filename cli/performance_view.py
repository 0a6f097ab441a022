"""The daemon's caches, rate limits and retries as tables, for ``etradectl status``."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cli.output import Output
    from protos.broker.v1 import performance_pb2


def _seconds(value: float) -> str:
    return f"{value:g} s"


def render_performance(out: Output, stats: performance_pb2.PerformanceStats) -> None:
    """Two tables (caches; rate limits per E*TRADE module) and a line about retries."""
    if not stats.caches and not stats.rate_limits:
        return  # a daemon older than API 1.1
    out.line()
    out.table(
        ("CACHE", "HITS", "MISSES", "COALESCED", "UPSTREAM", "ENTRIES", "TTL", "REFRESHED AHEAD"),
        [
            (
                c.name,
                str(c.hits),
                str(c.misses),
                str(c.coalesced),
                str(c.upstream_calls),
                str(c.entries),
                _seconds(c.ttl_seconds),
                str(c.refreshed_ahead) if c.name == "quotes" else "-",
            )
            for c in stats.caches
        ],
        right=(1, 2, 3, 4, 5, 6, 7),
    )
    out.line()
    out.table(
        ("RATE LIMIT", "PER SECOND", "NOW", "GRANTED", "WAITED", "WAIT TIME", "REFUSED", "E*TRADE REFUSED"),
        [
            (
                m.module,
                f"{m.rate_per_second:g}",
                f"{m.current_rate_per_second:g}",
                str(m.granted),
                str(m.waits),
                f"{m.waited_seconds:.1f} s",
                str(m.rejections),
                str(m.upstream_rate_limited),
            )
            for m in stats.rate_limits
        ],
        right=(1, 2, 3, 4, 5, 6, 7),
    )
    r = stats.retries
    out.line(f"\nretries: {r.retries} (recovered {r.recovered}, gave up {r.gave_up})")
