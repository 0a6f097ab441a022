"""The domain objects' door to E*TRADE's REST API: rate limited per module, retried when safe.

Two methods, and the difference between them is the point:

- :meth:`EtradeGateway.get_json` — idempotent reads (GET). Waits for the module's rate-limit
  slot within the caller's deadline, and retries transient failures (``daemon/gateway/retry.py``) with
  jittered backoff while the deadline leaves room for another attempt.
- :meth:`EtradeGateway.once` — requests that must never be repeated, above all **order
  placement**: the same rate limiting, exactly one attempt, no retry loop to opt out of. A
  placement whose outcome is unknown is reconciled against E*TRADE's order list by its caller,
  never resent here.

Both sign through :meth:`SessionManager.call`, so the session's own logic (token state, renewal,
401 handling) applies to every request unchanged.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from broker_client.errors import BrokerError, RateLimited
from daemon.etrade.upstream import JSON, EtradeHttp, Module
from daemon.gateway.deadline import REAL_TIME, Deadline, TimeSource
from daemon.gateway.ratelimit import RateLimiter
from daemon.gateway.retry import RetryPolicy, is_transient
from daemon.session import SessionManager

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Time kept for the HTTP exchange itself: a caller is not made to wait for a rate-limit slot or a
#: retry it could not use anyway.
CALL_HEADROOM_SECONDS = 0.25


@dataclass(frozen=True, slots=True)
class RetryStats:
    """How often reads were retried, and how those retries ended."""

    retries: int
    recovered: int
    gave_up: int


class EtradeGateway:
    """Rate-limited, retrying access to E*TRADE for the domain objects (no gRPC here)."""

    def __init__(
        self,
        session: SessionManager,
        http: EtradeHttp,
        limiter: RateLimiter,
        policy: RetryPolicy,
        *,
        time_source: TimeSource = REAL_TIME,
        rng: random.Random | None = None,
    ) -> None:
        self._session = session
        self._http = http
        self.limiter = limiter
        self.policy = policy
        self._time = time_source
        self._rng = rng or random.Random()
        self._retries = 0
        self._recovered = 0
        self._gave_up = 0
        self._access_seen: object | None = None
        self._on_new_session: list[Callable[[], None]] = []

    def on_new_session(self, forget: Callable[[], None]) -> None:
        """Call ``forget`` whenever a different access token comes into use (a new login)."""
        self._on_new_session.append(forget)

    async def require_session(self) -> None:
        """Raise the session's error (what to run) unless logged in.

        Caches call this before answering from memory: nothing is served while logged out, and
        nothing cached under one login is served under the next.
        """
        access = await self._session.usable_access()  # an idle session is renewed by the call itself
        if access is not self._access_seen:
            if self._access_seen is not None:
                for forget in self._on_new_session:
                    forget()
            self._access_seen = access

    async def _slot(self, module: Module, deadline: Deadline) -> None:
        await self.require_session()  # fail fast, without spending a slot, when nobody is logged in
        await self.limiter.acquire(module, deadline.remaining() - CALL_HEADROOM_SECONDS)

    async def reserve(self, module: Module, deadline: Deadline) -> None:
        """Take a rate-limit slot now for a request composed later (the quote batcher fills its
        request with whatever queued while it waited); pass ``reserved=True`` to use it."""
        await self._slot(module, deadline)

    async def get_json(
        self,
        module: Module,
        path: str,
        params: Mapping[str, str],
        deadline: Deadline,
        *,
        reserved: bool = False,
    ) -> JSON | None:
        """A signed GET of ``path``; ``None`` for HTTP 204. Retries transient failures.

        ``reserved``: the caller already took the first attempt's slot with :meth:`reserve`.
        """
        attempt = 0
        while True:
            if attempt or not reserved:
                await self._slot(module, deadline)
            try:
                result = await self._session.call(self._http.get_json, path, params, max(0.001, deadline.remaining()))
            except BrokerError as exc:
                if isinstance(exc, RateLimited):
                    self.limiter.upstream_refused(module)
                if not is_transient(exc):
                    raise
                failure: BrokerError = exc
            else:
                if attempt:
                    self._recovered += 1
                return result
            attempt += 1
            delay = self.policy.backoff(attempt, self._rng)
            if attempt > self.policy.retries or delay + CALL_HEADROOM_SECONDS >= deadline.remaining():
                if attempt > 1:
                    self._gave_up += 1
                raise _final(failure, attempt)
            self._retries += 1
            log.info("upstream: %s %s (%s); retry %d in %.2f s", module, path, failure.code.value, attempt, delay)
            await self._time.sleep(delay)

    async def once(self, module: Module, fn: Callable[..., T], *args: Any, deadline: Deadline) -> T:
        """``fn(consumer, access, *args)`` exactly once, after a rate-limit slot. Never retried, never
        re-sent: not after a 401 either (the session is renewed, and
        :class:`~daemon.session.RefusedAtAuthentication` says so)."""
        await self._slot(module, deadline)
        try:
            return await self._session.call(fn, *args, resend=False)
        except RateLimited:
            self.limiter.upstream_refused(module)
            raise

    def stats(self) -> RetryStats:
        return RetryStats(retries=self._retries, recovered=self._recovered, gave_up=self._gave_up)


def _final(failure: BrokerError, attempts: int) -> BrokerError:
    """The last failure (its class and E*TRADE code kept), saying how many attempts were made."""
    if attempts > 1:
        failure.message = f"{failure.message} (after {attempts} attempts)"
        failure.args = (failure.message,)
    return failure
