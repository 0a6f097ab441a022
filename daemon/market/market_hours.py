"""US equity market hours on the daemon's clock (America/New_York, DST-correct through zoneinfo).

Used to pick how long a quote stays fresh: prices move in the regular session and hardly at all
outside it. Exchange holidays are not modelled; a holiday is treated like a trading day, which
only makes quotes refresh more often than needed.
"""

from __future__ import annotations

import functools
from datetime import time

from daemon.clock import ET, to_datetime

REGULAR_OPEN = time(9, 30)
REGULAR_CLOSE = time(16, 0)


def in_regular_session(epoch_seconds: float) -> bool:
    """True from 09:30 to 16:00 US Eastern, Monday to Friday."""
    # Asked on every cached quote; session edges and DST changes fall on whole minutes, so the
    # answer is computed once per minute.
    return _in_regular_session_minute(int(epoch_seconds // 60))


@functools.lru_cache(maxsize=8)
def _in_regular_session_minute(minute: int) -> bool:
    local = to_datetime(minute * 60.0).astimezone(ET)
    return local.weekday() < 5 and REGULAR_OPEN <= local.time() < REGULAR_CLOSE
