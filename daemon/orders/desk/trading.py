"""Whether trading may happen at all: read-only mode, the halt switch and the circuit breaker.

Invariant: nothing order-changing happens in read-only mode or while trading is halted
(:meth:`TradingGate.gate` runs first in every order-changing operation, and again just before a send).
Refusals that say nothing about the caller never feed the breaker (:data:`NOT_COUNTED`, :class:`NotCounted`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, TypeVar

from broker_client.errors import BrokerError, ErrorCode, PolicyRefused, RateLimited, SessionError
from daemon.clock import iso_et
from daemon.events import EventKind
from daemon.orders.breaker import CircuitBreaker, HaltState, Problem, TradingSwitch
from daemon.orders.desk.config import TradingConfig
from daemon.orders.desk.core import DeskCore
from daemon.orders.validation import OrderPolicy

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Refusals that say nothing suspicious about the caller, so the circuit breaker ignores them.
NOT_COUNTED = {
    ErrorCode.READ_ONLY,
    ErrorCode.TRADING_HALTED,
    ErrorCode.CONFIRMATION_USED,
    ErrorCode.CONFIRMATION_EXPIRED,
    ErrorCode.OPERATOR_ONLY,
    ErrorCode.OUTCOME_UNRESOLVED,  # the journal's state, not the caller's doing
    ErrorCode.REQUEST_NOT_RECEIVED,  # E*TRADE refused the token, not the request
    # The human's backlog, not a probe: a model working through a basket longer than the cap would
    # otherwise halt trading, and with it the human's confirmations of the orders that wait. A model
    # looping on it costs nothing: nothing reaches E*TRADE and nothing is stored.
    ErrorCode.TOO_MANY_PENDING,
}


class NotCounted(Exception):
    """Carries a refusal or failure that says nothing about the caller (the market moved, E*TRADE could
    not be asked) out of the send, past the circuit breaker; :meth:`TradingGate.guard` unwraps it."""

    def __init__(self, error: BrokerError) -> None:
        super().__init__(error.message)
        self.error = error


@dataclass(frozen=True)
class TradingState:
    read_only: bool
    halt: HaltState
    pending: int
    attention: int
    breaker_recent: int


class TradingGate:
    """Read-only, halt and resume, and the circuit breaker fed by every counted refusal."""

    def __init__(self, core: DeskCore, config: TradingConfig) -> None:
        self._core = core
        self._config = config
        self.switch = TradingSwitch(core.journal.get_control, core.journal.set_control)
        self.breaker = CircuitBreaker(
            core.clock, threshold=config.breaker_threshold, window_seconds=config.breaker_window_seconds
        )
        self.policy = OrderPolicy(config.policy)

    def gate(self) -> None:
        """Read-only and the halt switch, before anything else."""
        self.policy.require_trading_enabled()
        state = self.switch.state
        if state.halted:
            since = f" since {iso_et(state.since)}" if state.since else ""
            raise PolicyRefused(ErrorCode.TRADING_HALTED, f"trading is halted{since}: {state.reason}")

    async def count(self, operation: str, exc: BrokerError, context: dict[str, Any]) -> None:
        """Audit a refusal or failure and feed the circuit breaker."""
        await self._core.record(f"{operation}.refused", {**context, "code": exc.code.value, "reason": exc.message})
        if exc.code is ErrorCode.CONFIRMATION_VOIDED and context.get("pending_id"):
            self._core.publish(EventKind.PENDING_ORDERS_CHANGED, str(context["pending_id"]), change="voided")
        # Bad input and refusals count (a confused or probing model stops itself); the session, rate
        # limits and harmless repeats do not.
        if exc.code in NOT_COUNTED or isinstance(exc, SessionError | RateLimited):
            return
        trip = self.breaker.record(exc.code.value, operation=operation, client=str(context.get("client", "")))
        if trip is not None:
            await self.halt(trip.reason, by="circuit breaker", problems=trip.problems)

    async def guard(self, operation: str, context: dict[str, Any], work: Awaitable[T]) -> T:
        try:
            return await work
        except NotCounted as wrapped:
            error = wrapped.error
            await self._core.record(
                f"{operation}.refused", {**context, "code": error.code.value, "reason": error.message}
            )
            raise error from None
        except BrokerError as exc:
            await self.count(operation, exc, context)
            raise

    async def halt(self, reason: str, *, by: str, problems: tuple[Problem, ...] = ()) -> HaltState:
        already = self.switch.halted
        state = await self._core.run_io(
            self.switch.halt, reason or "halted by the operator", by, self._core.clock.now(), problems
        )
        if not already:
            log.warning("trading: HALTED by %s: %s", by, state.reason)
            clients = ",".join(sorted({p.client for p in problems if p.client}))
            self._core.publish(
                EventKind.TRADING_STATE_CHANGED,
                "disabled",
                reason=state.reason,
                **({"cause": "circuit_breaker", "clients": clients} if problems else {}),
            )
            await self._core.record(
                "trading.halted",
                {
                    "reason": state.reason,
                    "by": by,
                    **({"problems": [p.as_json() for p in problems]} if problems else {}),
                },
            )
            self._core.notify("etrade-mcp: trading halted", f"{state.reason}\nResume with: etradectl resume")
        return state

    async def resume(self, *, by: str) -> HaltState:
        was = self.switch.state
        state = await self._core.run_io(self.switch.resume)
        if was.halted:
            log.warning("trading: resumed by %s", by)
            if not self._config.read_only:
                self._core.publish(EventKind.TRADING_STATE_CHANGED, "enabled", reason=f"resumed by {by}")
            await self._core.record("trading.resumed", {"by": by, "was": was.reason})
        return state

    async def attention(self) -> int:
        """Journal entries that need the operator."""
        return len(await self._core.run_io(self._core.journal.attention))

    async def state(self) -> TradingState:
        return TradingState(
            read_only=self._config.read_only,
            halt=self.switch.state,
            pending=len(self._core.pending.active()),
            attention=await self.attention(),
            breaker_recent=self.breaker.recent(),
        )


__all__ = ["NOT_COUNTED", "NotCounted", "TradingGate", "TradingState"]
