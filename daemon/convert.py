"""Domain dataclasses → protobuf messages. Field names match, so conversion is mechanical."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from google.protobuf.message import Message

from daemon import models
from daemon.clock import iso_et, iso_local
from daemon.gateway import RetryStats
from daemon.orders.breaker import HaltState
from daemon.quote_cache import QuoteCacheStats
from daemon.ratelimit import ModuleLimitStats
from daemon.scheduler import ScheduledJob
from daemon.session import SessionInfo
from daemon.ttl_cache import CacheStats
from protos.broker.v1 import accounts_pb2, market_pb2, performance_pb2, session_pb2

M = TypeVar("M", bound=Message)


def _shared_fields(cls: type[Message], kind: type) -> tuple[str, ...]:
    """The field names a dataclass type and a message type have in common (memoized: hot path)."""
    key = (cls, kind)
    names = _SHARED_FIELDS.get(key)
    if names is None:
        declared = cls.DESCRIPTOR.fields_by_name
        names = tuple(f.name for f in dataclasses.fields(kind) if f.name in declared)
        _SHARED_FIELDS[key] = names
    return names


_SHARED_FIELDS: dict[tuple[type[Message], type], tuple[str, ...]] = {}


def to_message(cls: type[M], obj: Any, **overrides: Any) -> M:
    """Copy the scalar fields of a dataclass that the message declares; None leaves a field unset."""
    values = {}
    for name in _shared_fields(cls, type(obj)):
        if name in overrides:
            continue
        value = getattr(obj, name)
        if value is None or isinstance(value, tuple) or dataclasses.is_dataclass(value):
            continue
        values[name] = value
    values.update(overrides)
    return cls(**values)


def quote(q: models.Quote) -> market_pb2.Quote:
    """The message for a quote. Cached quotes are answered many times over, so their messages are
    kept (by the identity of the immutable Quote): building one costs ~20 us, a lookup ~0.1 us.
    The returned message is shared: copy it (as repeated fields and ``CopyFrom`` do), never change it.
    """
    kept = _QUOTE_MESSAGES.get(id(q))
    if kept is not None and kept[0] is q:
        return kept[1]
    message = to_message(market_pb2.Quote, q)
    if len(_QUOTE_MESSAGES) >= _QUOTE_MESSAGES_MAX:
        _QUOTE_MESSAGES.clear()
    _QUOTE_MESSAGES[id(q)] = (q, message)  # holding q keeps its id from being reused
    return message


_QUOTE_MESSAGES: dict[int, tuple[models.Quote, market_pb2.Quote]] = {}
_QUOTE_MESSAGES_MAX = 1024


def quote_batch(batch: models.QuoteBatch) -> market_pb2.GetQuotesResponse:
    return market_pb2.GetQuotesResponse(
        quotes=[quote(q) for q in batch.quotes],
        errors=[to_message(market_pb2.SymbolError, e) for e in batch.errors],
    )


def account(a: models.Account) -> accounts_pb2.Account:
    return to_message(accounts_pb2.Account, a)


def balance(b: models.Balance) -> accounts_pb2.Balance:
    return to_message(accounts_pb2.Balance, b)


def position(p: models.Position) -> accounts_pb2.Position:
    return to_message(accounts_pb2.Position, p)


def portfolio(p: models.Portfolio) -> accounts_pb2.GetPortfolioResponse:
    return accounts_pb2.GetPortfolioResponse(
        account_id_key=p.account_id_key,
        positions=[position(x) for x in p.positions],
        totals=to_message(accounts_pb2.PortfolioTotals, p.totals),
        fetched_at_unix_ms=p.fetched_at_unix_ms,
    )


def position_details(d: models.PositionDetails) -> accounts_pb2.GetPositionResponse:
    response = accounts_pb2.GetPositionResponse(
        account_id_key=d.account_id_key,
        positions=[position(x) for x in d.positions],
        lots=[to_message(accounts_pb2.Lot, lot) for lot in d.lots],
    )
    if d.quote is not None:
        response.quote.CopyFrom(quote(d.quote))
    return response


def _ms(seconds: float | None) -> int:
    return 0 if seconds is None else int(seconds * 1000)


def _iso_et(seconds: float | None) -> str:
    return iso_et(seconds) if seconds else ""


def _iso_local(seconds: float | None) -> str:
    return iso_local(seconds) if seconds else ""


def session_info(info: SessionInfo) -> session_pb2.SessionInfo:
    return session_pb2.SessionInfo(
        state=session_pb2.SessionState.Value(f"SESSION_STATE_{info.state.value}"),
        detail=info.detail,
        fix_command=info.fix_command,
        last_upstream_call_unix_ms=_ms(info.last_upstream_call),
        next_renewal_unix_ms=_ms(info.next_renewal),
        expires_at_unix_ms=_ms(info.expires_at),
        expires_at_et=_iso_et(info.expires_at),
        expires_at_local=_iso_local(info.expires_at),
        logged_in_at_unix_ms=_ms(info.logged_in_at),
        as_of_unix_ms=_ms(info.as_of),
        state_reason=info.state_reason,
        state_since_unix_ms=_ms(info.state_since),
        last_upstream_call_et=_iso_et(info.last_upstream_call),
        last_upstream_call_local=_iso_local(info.last_upstream_call),
        next_renewal_et=_iso_et(info.next_renewal),
        next_renewal_local=_iso_local(info.next_renewal),
        inactive_at_unix_ms=_ms(info.inactive_at),
        last_renewal_unix_ms=_ms(info.last_renewal),
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
        "halted_at_unix_ms": _ms(state.since),
        "halted_by": state.by,
        "breaker_problems": [
            session_pb2.BreakerProblem(at_unix_ms=_ms(p.at), code=p.code, operation=p.operation, client=p.client)
            for p in state.problems
        ],
    }


def scheduled_job(job: ScheduledJob) -> session_pb2.ScheduledJob:
    return session_pb2.ScheduledJob(
        id=job.id, description=job.description, next_run_unix_ms=_ms(job.next_run), trigger=job.trigger
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
