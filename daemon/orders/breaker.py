"""The halt switch and the circuit breaker that throws it.

:class:`TradingSwitch` refuses every new preview, placement and cancel while halted. It is kept in
the journal database, so a halt survives a daemon restart and only the operator ends it
(``etradectl resume``).

:class:`CircuitBreaker` counts trouble — policy refusals, wrong confirmation codes, E*TRADE errors on
order requests — on the daemon's clock; ``threshold`` of them within ``window_seconds`` trip it,
and the caller halts trading. A model that keeps probing limits or guessing codes stops itself.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from daemon.clock import Clock

HALT_KEY = "halt"


@dataclass(frozen=True)
class Problem:
    """One thing the circuit breaker counted: when, what (an error code), in which request, whose."""

    at: float
    code: str
    operation: str = ""
    client: str = ""

    def as_json(self) -> dict[str, object]:
        return {"at": self.at, "code": self.code, "operation": self.operation, "client": self.client}

    @classmethod
    def from_json(cls, data: object) -> Problem:
        if not isinstance(data, dict):
            raise TypeError("a problem is an object")
        return cls(float(data["at"]), str(data["code"]), str(data.get("operation", "")), str(data.get("client", "")))


@dataclass(frozen=True)
class HaltState:
    halted: bool
    reason: str = ""
    since: float = 0.0
    by: str = ""
    #: When the circuit breaker halted trading: the problems that tripped it.
    problems: tuple[Problem, ...] = ()


class TradingSwitch:
    """Halted or not, persisted through ``load``/``store`` callbacks (the journal's control table)."""

    def __init__(self, load: Callable[[str], str | None], store: Callable[[str, str | None], None]) -> None:
        self._store = store
        raw = load(HALT_KEY)
        self.state = HaltState(False)
        if raw:
            try:
                data = json.loads(raw)
                problems = tuple(Problem.from_json(p) for p in data.get("problems", []))
                self.state = HaltState(True, str(data["reason"]), float(data["since"]), str(data["by"]), problems)
            except (ValueError, KeyError, TypeError):
                # Unreadable means someone halted and the record broke: stay halted, safely.
                self.state = HaltState(True, "the saved halt record was unreadable", 0.0, "daemon")

    @property
    def halted(self) -> bool:
        return self.state.halted

    def halt(self, reason: str, by: str, at: float, problems: tuple[Problem, ...] = ()) -> HaltState:
        if not self.state.halted:
            self.state = HaltState(True, reason, at, by, problems)
            record = {"reason": reason, "since": at, "by": by, "problems": [p.as_json() for p in problems]}
            self._store(HALT_KEY, json.dumps(record))
        return self.state

    def resume(self) -> HaltState:
        self.state = HaltState(False)
        self._store(HALT_KEY, None)
        return self.state


@dataclass(frozen=True)
class Trip:
    """The breaker tripped: why (one line), and the problems that did it."""

    reason: str
    problems: tuple[Problem, ...]


class CircuitBreaker:
    """Trips after ``threshold`` recorded problems within ``window_seconds``."""

    def __init__(self, clock: Clock, *, threshold: int, window_seconds: float) -> None:
        self._clock = clock
        self.threshold = threshold
        self.window_seconds = window_seconds
        self._events: deque[Problem] = deque()

    def _trim(self, now: float) -> None:
        while self._events and now - self._events[0].at > self.window_seconds:
            self._events.popleft()

    def record(self, code: str, *, operation: str = "", client: str = "") -> Trip | None:
        """Count one problem; returns the trip when this one trips the breaker."""
        now = self._clock.now()
        self._trim(now)
        self._events.append(Problem(now, code, operation, client))
        if len(self._events) >= self.threshold:
            problems = tuple(self._events)
            self._events.clear()
            kinds = sorted({p.code for p in problems})
            clients = sorted({p.client or "unnamed client" for p in problems})
            reason = (
                f"circuit breaker: {len(problems)} problems within {self.window_seconds:g} s "
                f"({', '.join(kinds)}) from {', '.join(clients)}"
            )
            return Trip(reason, problems)
        return None

    def recent(self) -> int:
        """Problems counted in the current window."""
        self._trim(self._clock.now())
        return len(self._events)
