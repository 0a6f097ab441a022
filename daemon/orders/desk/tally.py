"""Today's orders and their value, for the daily limits.

Every place counts from the moment its approval is claimed (so concurrent confirmations cannot
overshoot the limits), and stops counting when it turns out nothing was placed. At start-up the
journal's recent placements are loaded, so a restart does not reset the day.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from daemon.clock import Clock, last_midnight_et
from daemon.orders import risk
from daemon.orders.journal import Entry


class DailyTally:
    def __init__(self, clock: Clock, limits: risk.RiskLimits) -> None:
        self._clock = clock
        self.limits = limits
        # pending id (or journal entry) -> (sent at, estimated value) of recent sends
        self._sent: dict[str, tuple[float, Decimal]] = {}

    def load(self, placed: Iterable[Entry]) -> None:
        """The journal's placements since yesterday's midnight (US Eastern)."""
        for entry in placed:
            self._sent[f"entry-{entry.id}"] = (entry.created_at, Decimal(entry.estimated_value or "0"))

    def today(self, *, excluding: str = "") -> risk.DailyActivity:
        midnight = last_midnight_et(self._clock.now())
        today = [value for key, (at, value) in self._sent.items() if at >= midnight and key != excluding]
        return risk.DailyActivity(orders=len(today), value=sum(today, Decimal(0)))

    def check(self, value: Decimal) -> None:
        """Refuse an order of ``value`` that would break today's limits."""
        risk.refuse_on_hard(risk.daily(value, self.today(), self.limits))

    def count(self, key: str, value: Decimal) -> None:
        """Count ``key`` from now (its approval was just claimed)."""
        self._sent[key] = (self._clock.now(), value)

    def revalue(self, key: str, value: Decimal) -> None:
        """Re-value ``key`` at today's price; it keeps the time it was first counted."""
        first = self._sent.get(key, (self._clock.now(), value))[0]
        self._sent[key] = (first, value)

    def forget(self, key: str) -> None:
        """Nothing was placed: it does not count against today."""
        self._sent.pop(key, None)
