"""Session, status and performance facts → session.proto and performance.proto messages."""

from __future__ import annotations

from typing import Any

from daemon.clock import iso_et, iso_local
from daemon.gateway.gateway import RetryStats
from daemon.gateway.ratelimit import ModuleLimitStats
from daemon.market.quote_cache import QuoteCacheStats
from daemon.market.ttl_cache import CacheStats
from daemon.orders.breaker import HaltState
from daemon.rpc.convert.common import ms, to_message
from daemon.scheduler import ScheduledJob
from daemon.session import SessionInfo
from protos.broker.v1 import performance_pb2, session_pb2


def _iso_et(seconds: float | None) -> str:
    return iso_et(seconds) if seconds else ""


def _iso_local(seconds: float | None) -> str:
    return iso_local(seconds) if seconds else ""


def session_info(info: SessionInfo) -> session_pb2.SessionInfo:
    return session_pb2.SessionInfo(
        state=session_pb2.SessionState.Value(f"SESSION_STATE_{info.state.value}"),
        detail=info.detail,
        fix_command=info.fix_command,
        last_upstream_call_unix_ms=ms(info.last_upstream_call),
        next_renewal_unix_ms=ms(info.next_renewal),
        expires_at_unix_ms=ms(info.expires_at),
        expires_at_et=_iso_et(info.expires_at),
        expires_at_local=_iso_local(info.expires_at),
        logged_in_at_unix_ms=ms(info.logged_in_at),
        as_of_unix_ms=ms(info.as_of),
        state_reason=info.state_reason,
        state_since_unix_ms=ms(info.state_since),
        last_upstream_call_et=_iso_et(info.last_upstream_call),
        last_upstream_call_local=_iso_local(info.last_upstream_call),
        next_renewal_et=_iso_et(info.next_renewal),
        next_renewal_local=_iso_local(info.next_renewal),
        inactive_at_unix_ms=ms(info.inactive_at),
        last_renewal_unix_ms=ms(info.last_renewal),
        last_renewal_result=info.last_renewal_result,
        login_reminder=info.login_reminder,
        secret_store=info.secret_store,
        credentials_source=info.credentials_source,
        renew_after_idle_seconds=int(info.renew_after_idle),
    )


def halt_fields(state: HaltState) -> dict[str, Any]:
    """GetStatusResponse's halt fields (empty while trading is not halted)."""
    if not state.halted:
        return {}
    return {
        "halt_reason": state.reason,
        "halted_at_unix_ms": ms(state.since),
        "halted_by": state.by,
        "breaker_problems": [
            session_pb2.BreakerProblem(at_unix_ms=ms(p.at), code=p.code, operation=p.operation, client=p.client)
            for p in state.problems
        ],
    }


def scheduled_job(job: ScheduledJob) -> session_pb2.ScheduledJob:
    return session_pb2.ScheduledJob(
        id=job.id, description=job.description, next_run_unix_ms=ms(job.next_run), trigger=job.trigger
    )


def performance(
    quotes: QuoteCacheStats, caches: list[CacheStats], limits: list[ModuleLimitStats], retries: RetryStats
) -> performance_pb2.PerformanceStats:
    """The caches' (quotes first), the rate limiter's and the retries' counters."""
    return performance_pb2.PerformanceStats(
        caches=[
            to_message(performance_pb2.CacheStats, quotes, name="quotes"),
            *[to_message(performance_pb2.CacheStats, c) for c in caches],
        ],
        rate_limits=[to_message(performance_pb2.RateLimitStats, m) for m in limits],
        retries=to_message(performance_pb2.RetryStats, retries),
    )
