"""Which E*TRADE failures are worth another attempt, and how long to back off before it.

Only idempotent reads are ever retried (see ``daemon/gateway/gateway.py``). Transient means: the request
may well succeed if simply sent again —

- no answer: timeouts and connection errors (``UPSTREAM_TIMEOUT``, ``UPSTREAM_UNAVAILABLE``);
- E*TRADE's service trouble: any HTTP 5xx (code 100 "The requested service is not currently
  available, please try after sometime" and 670 "maintenance" come as 500), and code 163
  "Quote service is not available at this time, please try again later" whatever the status;
- E*TRADE's "rate limit exceeded" page (after the limiter has slowed down).

Everything else — a refused token, an unknown account (code 100 with HTTP 400), a bad symbol —
would fail again the same way and is returned at once.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from broker_client.errors import BrokerError, ErrorCode, RateLimited
from daemon.etrade.upstream import EtradeApiError

#: E*TRADE codes that mean "try again later" even without a 5xx status (reference §4).
TRANSIENT_ETRADE_CODES = frozenset({163})


def is_transient(exc: BrokerError) -> bool:
    """True when sending the same read again may succeed."""
    if isinstance(exc, RateLimited):
        return True
    if isinstance(exc, EtradeApiError):
        return exc.http_status >= 500 or exc.etrade_code in TRANSIENT_ETRADE_CODES
    return exc.code in (ErrorCode.UPSTREAM_TIMEOUT, ErrorCode.UPSTREAM_UNAVAILABLE)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """At most ``retries`` more attempts, with "equal jitter" exponential backoff.

    The n-th retry waits between half and all of ``min(max_delay, base_delay * 2**(n-1))``:
    spread out so that several callers do not retry in lockstep, yet never back to back.
    """

    retries: int = 2
    base_delay: float = 0.25
    max_delay: float = 2.0

    def backoff(self, retry: int, rng: random.Random) -> float:
        """Seconds to wait before retry number ``retry`` (1-based)."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** (retry - 1)))
        return float(ceiling / 2 + rng.uniform(0, ceiling / 2))
