"""Pending confirmations: an order (or a cancel) that waits for a human's approval.

Each pending order has a one-time confirmation code made with :mod:`secrets`. The code is bound to
a digest of the exact order and E*TRADE's preview: what is stored is
``HMAC(process key, digest ‖ code)``, so a code only ever confirms the order it was made for, and
when anything about the order changed the code no longer matches. Codes are compared in constant
time (:func:`hmac.compare_digest`), are single-use, expire, and a few wrong codes void the pending
order. The code itself stays in this process's memory for the operator's listing only; it is never
persisted, logged, put in an exception, or returned to the proxy.

Claiming is synchronous (no ``await`` between the check and the state change), so on the event
loop exactly one of any number of concurrent confirmations wins.

Pending orders live in memory: a daemon restart voids them all, which is the safe direction. Memory
stays bounded: at most ``max_waiting`` places wait at once (:meth:`PendingStore.slot` refuses more
before E*TRADE is asked), at most one cancel per order (:meth:`PendingStore.waiting_cancel`: a second
request for the same order gets the one that waits), so no more cancels than orders open at E*TRADE,
and finished ones are kept for :data:`KEEP_FINISHED_SECONDS` but never more than
:data:`KEEP_FINISHED_MAX` of them.
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
import hmac
import json
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from broker_client.errors import ErrorCode, NotFound, PolicyRefused
from daemon.clock import Clock, iso_et
from daemon.orders.model import EtradePreview, Order, OrderRequest, RiskFinding

#: 31 symbols without look-alikes (no 0/O, 1/I/L): 8 of them are about 40 bits.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
#: Finished pending orders are remembered this long, so a late confirm hears "already used".
KEEP_FINISHED_SECONDS = 3600.0
#: ... but at most this many (the oldest are forgotten first). The cap on waiting orders bounds how many
#: wait, not how fast they finish: with a short confirmation lifetime they expire as fast as they come.
KEEP_FINISHED_MAX = 500


class PendingKind(enum.StrEnum):
    PLACE = "PLACE"
    CANCEL = "CANCEL"


class PendingState(enum.StrEnum):
    PENDING = "PENDING"
    CONFIRMED = "CONFIRMED"  # claimed by a correct confirmation; the request is (being) sent
    REJECTED = "REJECTED"  # the operator said no
    VOIDED = "VOIDED"  # too many wrong codes
    EXPIRED = "EXPIRED"


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(raw: str) -> str:
    """What a human types or tells the model: case, spaces and dashes do not matter."""
    return "".join(ch for ch in (raw or "").upper() if ch not in " -\t")


def format_code(code: str) -> str:
    """``ABCD-EFGH``: easier to read aloud."""
    return f"{code[:4]}-{code[4:]}"


def digest_of(fields: Mapping[str, str]) -> str:
    """SHA-256 of the canonical JSON of the exact order (and preview): what a code is bound to."""
    canonical = json.dumps(dict(sorted(fields.items())), separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CancelTarget:
    """The order a pending cancel would cancel, as E*TRADE listed it when the cancel was requested."""

    account_id_key: str
    order: Order

    def canonical(self) -> dict[str, str]:
        return {
            "account_id_key": self.account_id_key,
            "order_id": str(self.order.order_id),
            "symbol": self.order.symbol,
            "action": self.order.action,
        }


@dataclass
class PendingOrder:
    """A place or cancel request waiting for its confirmation."""

    id: str
    kind: PendingKind
    digest: str
    created_at: float
    expires_at: float
    account_id_key: str
    client_order_id: str = ""
    order: OrderRequest | None = None
    preview: EtradePreview | None = None
    cancel: CancelTarget | None = None
    warnings: tuple[RiskFinding, ...] = ()
    estimated_value: str = ""
    reference_price: str = ""
    symbol_description: str = ""
    state: PendingState = PendingState.PENDING
    wrong_attempts: int = 0
    finished_at: float | None = None
    code: str = field(default="", repr=False)
    code_mac: bytes = field(default=b"", repr=False)
    #: While CONFIRMED: the code, kept in memory only until the request's outcome is known, so a
    #: request E*TRADE never received can be confirmed again with the same code (:meth:`PendingStore.release`).
    held_code: str = field(default="", repr=False)
    #: Why a VOIDED pending order was voided, when not for wrong codes.
    void_reason: str = ""

    def bound_fields(self) -> dict[str, str]:
        """Everything the digest (and so the code) covers."""
        fields = {"kind": self.kind.value, "pending_id": self.id, "client_order_id": self.client_order_id}
        if self.order is not None:
            fields.update({f"order.{k}": v for k, v in self.order.canonical().items()})
        if self.preview is not None:
            fields.update({f"preview.{k}": v for k, v in self.preview.canonical().items()})
        if self.cancel is not None:
            fields.update({f"cancel.{k}": v for k, v in self.cancel.canonical().items()})
        return fields


class PendingStore:
    """Every pending confirmation of this daemon process.

    Invariants: a new pending place is created only inside a :meth:`slot`, so no more than
    ``max_waiting`` places wait at once — except when :meth:`release` gives back a human's approval,
    which is never refused. A new pending cancel is created only when :meth:`waiting_cancel` finds
    none for its order (checked with no ``await`` before the creation), so at most one waits per
    order, and a cancel is never refused for a count: a model asking to cancel every open order, over
    and over, cannot fill a list that the human's own cancel would then find full.
    """

    def __init__(self, clock: Clock, *, ttl_seconds: float, max_attempts: int, max_waiting: int) -> None:
        self._clock = clock
        self.ttl_seconds = ttl_seconds
        self.max_attempts = max_attempts
        self.max_waiting = max_waiting
        self._key = secrets.token_bytes(32)  # per process: codes die with the daemon
        self._pending: dict[str, PendingOrder] = {}
        #: Slots taken by previews of places still being made (E*TRADE is being asked).
        self._reserved = 0

    def _mac(self, digest: str, code: str) -> bytes:
        return hmac.new(self._key, f"{digest}:{code}".encode(), hashlib.sha256).digest()

    def _new_id(self) -> str:
        while True:
            candidate = f"pnd_{secrets.token_hex(5)}"
            if candidate not in self._pending:
                return candidate

    def create(
        self,
        kind: PendingKind,
        account_id_key: str,
        *,
        client_order_id: str = "",
        order: OrderRequest | None = None,
        preview: EtradePreview | None = None,
        cancel: CancelTarget | None = None,
        warnings: tuple[RiskFinding, ...] = (),
        estimated_value: str = "",
        reference_price: str = "",
        symbol_description: str = "",
    ) -> PendingOrder:
        """A new pending order with a fresh code bound to its digest."""
        self.sweep()
        now = self._clock.now()
        pending = PendingOrder(
            id=self._new_id(),
            kind=kind,
            digest="",
            created_at=now,
            expires_at=now + self.ttl_seconds,
            account_id_key=account_id_key,
            client_order_id=client_order_id,
            order=order,
            preview=preview,
            cancel=cancel,
            warnings=warnings,
            estimated_value=estimated_value,
            reference_price=reference_price,
            symbol_description=symbol_description,
        )
        pending.digest = digest_of(pending.bound_fields())
        pending.code = new_code()
        pending.code_mac = self._mac(pending.digest, pending.code)
        self._pending[pending.id] = pending
        return pending

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        """Room for one more pending place while its preview is made, or PolicyRefused (TOO_MANY_PENDING).

        Checked and taken without an ``await``, so concurrent previews cannot all pass the check before
        any of them has created its entry; the slot is given back when the block ends, by which time
        the entry (if any) counts itself. Cancels take no slot (see :meth:`waiting_cancel`).
        """
        waiting = [p for p in self.active() if p.kind is PendingKind.PLACE]
        reserved = self._reserved
        if len(waiting) + reserved >= self.max_waiting:
            one = len(waiting) == 1
            making = f" (and {reserved} more being previewed)" if reserved else ""
            expiry = f"; the oldest expires at {iso_et(waiting[0].expires_at)}" if waiting else ""
            raise PolicyRefused(
                ErrorCode.TOO_MANY_PENDING,
                f"{len(waiting)} order{'' if one else 's'} already {'waits' if one else 'wait'} for a human's "
                f"approval{making}, and at most {self.max_waiting} may wait at once (ETRADE_MAX_PENDING_ORDERS)"
                f"{expiry}",
            )
        self._reserved += 1
        try:
            yield
        finally:
            self._reserved -= 1

    def waiting_cancel(self, account_id_key: str, order_id: int) -> PendingOrder | None:
        """The pending cancel of this order that still waits, if any (there is never more than one)."""
        for pending in self.active():
            target = pending.cancel
            if (
                pending.kind is PendingKind.CANCEL
                and target is not None
                and target.account_id_key == account_id_key
                and target.order.order_id == order_id
            ):
                return pending
        return None

    def get(self, pending_id: str) -> PendingOrder:
        """A pending order by id (any state); NotFound if unknown or long finished."""
        found = self._pending.get((pending_id or "").strip())
        if found is None:
            raise NotFound(ErrorCode.PENDING_NOT_FOUND, f"there is no pending order {pending_id[:40]!r}")
        self._expire(found)
        return found

    def active(self) -> list[PendingOrder]:
        """Orders still waiting for a confirmation, oldest first."""
        self.sweep()
        return sorted(
            (p for p in self._pending.values() if p.state is PendingState.PENDING), key=lambda p: p.created_at
        )

    def _expire(self, pending: PendingOrder) -> None:
        if pending.state is PendingState.PENDING and self._clock.now() >= pending.expires_at:
            self._finish(pending, PendingState.EXPIRED)

    def _finish(self, pending: PendingOrder, state: PendingState) -> None:
        pending.state = state
        pending.finished_at = self._clock.now()
        pending.held_code = pending.code if state is PendingState.CONFIRMED else ""
        pending.code = ""  # nobody needs to see it any more

    def sweep(self) -> None:
        """Expire what is due; forget what finished long ago, and the oldest finished beyond the most kept."""
        now = self._clock.now()
        for pending in list(self._pending.values()):
            self._expire(pending)
            if pending.finished_at is not None and now - pending.finished_at > KEEP_FINISHED_SECONDS:
                del self._pending[pending.id]
            elif pending.held_code and now >= pending.expires_at:
                pending.held_code = ""  # it can no longer be released
        # A confirmed request whose approval is held may still be released: it is never forgotten early.
        finished = [p for p in self._pending.values() if p.finished_at is not None and not p.held_code]
        if len(finished) > KEEP_FINISHED_MAX:
            finished.sort(key=lambda p: p.finished_at or 0.0)
            for pending in finished[: len(finished) - KEEP_FINISHED_MAX]:
                del self._pending[pending.id]

    def _require_pending(self, pending: PendingOrder) -> None:
        self._expire(pending)
        state = pending.state
        if state is PendingState.PENDING:
            return
        if state is PendingState.CONFIRMED:
            raise PolicyRefused(ErrorCode.CONFIRMATION_USED, f"pending order {pending.id} was already confirmed")
        if state is PendingState.EXPIRED:
            raise PolicyRefused(
                ErrorCode.CONFIRMATION_EXPIRED,
                f"pending order {pending.id} expired (confirmations last {self.ttl_seconds:g} seconds)",
            )
        if state is PendingState.VOIDED and pending.void_reason:
            raise PolicyRefused(
                ErrorCode.CONFIRMATION_VOIDED, f"pending order {pending.id} was voided: {pending.void_reason}"
            )
        if state is PendingState.REJECTED:
            raise PolicyRefused(
                ErrorCode.CONFIRMATION_VOIDED, f"pending order {pending.id} was rejected by the operator"
            )
        raise PolicyRefused(
            ErrorCode.CONFIRMATION_VOIDED,
            f"pending order {pending.id} was voided after {self.max_attempts} wrong confirmation codes",
        )

    def _check_binding(self, pending: PendingOrder) -> None:
        # The stored order must still hash to the digest the code was made for.
        if digest_of(pending.bound_fields()) != pending.digest:
            self._finish(pending, PendingState.VOIDED)
            raise PolicyRefused(
                ErrorCode.CONFIRMATION_VOIDED, f"pending order {pending.id} changed after its preview and was voided"
            )

    def claim_with_code(self, pending_id: str, code: str, kind: PendingKind) -> PendingOrder:
        """Confirm with the human's code: the one correct, timely, first use wins.

        Wrong codes count; the ``max_attempts``-th voids the pending order. Raises PolicyRefused
        (CONFIRMATION_INVALID, _EXPIRED, _USED, _VOIDED) or NotFound. Never mentions the code.
        """
        pending = self.get(pending_id)
        if pending.kind is not kind:
            raise PolicyRefused(
                ErrorCode.CONFIRMATION_INVALID,
                f"{pending.id} is a pending {pending.kind.value.lower()}, not a {kind.value.lower()}",
            )
        self._require_pending(pending)
        given = self._mac(pending.digest, normalize_code(code))
        if not hmac.compare_digest(given, pending.code_mac):
            pending.wrong_attempts += 1
            left = self.max_attempts - pending.wrong_attempts
            if left <= 0:
                self._finish(pending, PendingState.VOIDED)
                raise PolicyRefused(
                    ErrorCode.CONFIRMATION_VOIDED,
                    f"wrong confirmation code for {pending.id}; after {self.max_attempts} wrong codes "
                    "the pending order is voided",
                )
            raise PolicyRefused(
                ErrorCode.CONFIRMATION_INVALID,
                f"wrong confirmation code for {pending.id} ({left} attempt{'s' if left != 1 else ''} left "
                "before it is voided)",
            )
        self._check_binding(pending)
        self._finish(pending, PendingState.CONFIRMED)
        return pending

    def claim_by_operator(self, pending_id: str, digest: str) -> PendingOrder:
        """The operator confirmed in etradectl after seeing the order whose digest they send back."""
        pending = self.get(pending_id)
        self._require_pending(pending)
        if not hmac.compare_digest(pending.digest.encode(), (digest or "").strip().lower().encode()):
            raise PolicyRefused(
                ErrorCode.CONFIRMATION_INVALID,
                f"pending order {pending.id} is not the order that was shown; list it again and confirm that one",
            )
        self._check_binding(pending)
        self._finish(pending, PendingState.CONFIRMED)
        return pending

    def reject(self, pending_id: str, *, sending: bool = False) -> PendingOrder:
        """The operator said no.

        Also to a CONFIRMED request whose approval is held (its send came back unsettled and may be
        given back): then it never comes back. ``sending``: its request is on the wire right now,
        which no reject can stop.
        """
        pending = self.get(pending_id)
        if pending.state is PendingState.CONFIRMED and pending.held_code and not sending:
            pending.held_code = ""
            pending.state = PendingState.REJECTED
            return pending
        self._require_pending(pending)
        self._finish(pending, PendingState.REJECTED)
        return pending

    def void(self, pending_id: str, reason: str) -> PendingOrder:
        """End a claimed or waiting request for ``reason`` (said to whoever tries it again)."""
        pending = self.get(pending_id)
        pending.void_reason = reason
        self._finish(pending, PendingState.VOIDED)
        return pending

    def release(self, pending_id: str) -> PendingOrder | None:
        """A confirmed request that E*TRADE did not receive waits for its confirmation again.

        Same code, same digest, same expiry: the human's approval still stands, and it can still be
        used only once — so it waits again even when that puts its kind one over ``max_waiting``. None when there is nothing to release (unknown, not CONFIRMED, or expired).
        """
        pending = self._pending.get(pending_id)
        if pending is None or pending.state is not PendingState.CONFIRMED or not pending.held_code:
            return None
        if self._clock.now() >= pending.expires_at:
            pending.held_code = ""
            return None
        pending.state = PendingState.PENDING
        pending.finished_at = None
        pending.code, pending.held_code = pending.held_code, ""
        return pending

    def settle(self, pending_id: str) -> None:
        """The confirmed request's outcome is known: forget the code it was confirmed with."""
        pending = self._pending.get(pending_id)
        if pending is not None:
            pending.held_code = ""
