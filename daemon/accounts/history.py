"""An account's transaction history, read from E*TRADE's Transactions API.

Reads go through the gateway (the ``accounts`` rate-limit module, retries within the caller's
deadline). A date range is fetched across E*TRADE's pages of 50, following its ``marker``, up to
:data:`MAX_PAGES` pages; the whole range is cached per (account, start, end) with the same TTL as
balances and portfolios and is forgotten with them (after order activity, on a new session), so a
fill the daemon just learned about is never hidden by an older copy.

Invariants: transactions are returned newest first; ``truncated`` is True whenever anything that
matched was left out (the caller's limit, or more than ``MAX_PAGES`` pages upstream); the summary
sums exactly the transactions returned.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from broker_client.errors import ErrorCode, InvalidRequest, NotFound
from daemon.accounts.accounts import AccountsData, check_account_key, get_account_json
from daemon.clock import ET, Clock
from daemon.etrade.etrade_json import JSON, as_list, num, obj, text, whole
from daemon.etrade.upstream import EtradeApiError
from daemon.gateway.deadline import Deadline
from daemon.gateway.gateway import EtradeGateway
from daemon.market.ttl_cache import CacheStats, TtlCache

#: E*TRADE's page size maximum for List Transactions.
PAGE_SIZE = 50
#: Pages followed per date range: 1000 transactions.
MAX_PAGES = 20
DEFAULT_LIMIT = 200
MAX_LIMIT = MAX_PAGES * PAGE_SIZE
DEFAULT_DAYS = 30
#: E*TRADE refuses start dates older than this (error 2003).
HISTORY_DAYS = 3 * 365
_TRANSACTION_ID = re.compile(r"^\d{1,24}$")

KINDS = ("BUY", "SELL", "SELL_SHORT", "BUY_TO_COVER", "DIVIDEND", "INTEREST", "FEE", "TRANSFER", "OTHER")


def transaction_kind(transaction_type: str, amount: float) -> str:
    """E*TRADE's free-text ``transactionType`` in a fixed vocabulary (see :data:`KINDS`)."""
    t = transaction_type.strip().lower()
    if t.startswith("bought to cover") or t == "buy to cover":
        return "BUY_TO_COVER"
    if t.startswith("sold short") or t == "short sale":
        return "SELL_SHORT"
    if t.startswith("bought") or t == "buy":
        return "BUY"
    if t.startswith("sold") or t == "sell":
        return "SELL"
    if "dividend" in t:
        return "DIVIDEND"
    if "interest" in t:
        # Margin interest is a charge; interest paid to the account is income.
        return "FEE" if amount < 0 else "INTEREST"
    if "fee" in t or "commission" in t or "charge" in t:
        return "FEE"
    if any(word in t for word in ("transfer", "deposit", "withdrawal", "contribution", "wire", "ach", "distribution")):
        return "TRANSFER"
    return "OTHER"


@dataclass(frozen=True, slots=True)
class Transaction:
    transaction_id: str
    account_id_key: str
    transaction_date_unix_ms: int
    post_date_unix_ms: int
    amount: float
    description: str
    transaction_type: str
    kind: str
    symbol: str
    security_type: str
    quantity: float
    price: float
    fee: float
    settlement_date_unix_ms: int


@dataclass(frozen=True, slots=True)
class TransactionSummary:
    dividends: float
    interest: float
    fees: float
    net_transfers: float
    bought: float
    sold: float
    count: int


@dataclass(frozen=True, slots=True)
class TransactionPage:
    account_id_key: str
    start_date: str
    end_date: str
    transactions: tuple[Transaction, ...]
    truncated: bool
    summary: TransactionSummary
    fetched_at_unix_ms: int


@dataclass(frozen=True, slots=True)
class TransactionDetails:
    transaction: Transaction
    category: str
    order_number: str
    memo: str


@dataclass(frozen=True, slots=True)
class _Range:
    transactions: tuple[Transaction, ...]
    more_upstream: bool
    fetched_at_unix_ms: int


def summarize(transactions: Iterable[Transaction]) -> TransactionSummary:
    """Totals by kind, USD, rounded to cents."""
    sums = {"DIVIDEND": 0.0, "INTEREST": 0.0, "FEE": 0.0, "TRANSFER": 0.0, "BUY": 0.0, "SELL": 0.0}
    count = 0
    for t in transactions:
        count += 1
        kind = {"BUY_TO_COVER": "BUY", "SELL_SHORT": "SELL"}.get(t.kind, t.kind)
        if kind in sums:
            sums[kind] += t.amount
    return TransactionSummary(
        dividends=round(sums["DIVIDEND"], 2),
        interest=round(sums["INTEREST"], 2),
        fees=round(-sums["FEE"], 2),
        net_transfers=round(sums["TRANSFER"], 2),
        bought=round(-sums["BUY"], 2),
        sold=round(sums["SELL"], 2),
        count=count,
    )


def _transaction(raw: Any, account_id_key: str) -> Transaction | None:
    t = obj(raw)
    transaction_id = text(t.get("transactionId"))
    if not transaction_id:
        return None
    # The list answers lower-case ``brokerage``/``product``; the details capitalise them.
    brokerage = obj(t.get("brokerage") or t.get("Brokerage"))
    product = obj(brokerage.get("product") or brokerage.get("Product"))
    transaction_type = text(t.get("transactionType") or brokerage.get("transactionType"))
    amount = num(t.get("amount"))
    return Transaction(
        transaction_id=transaction_id,
        account_id_key=account_id_key,
        transaction_date_unix_ms=whole(t.get("transactionDate")),
        post_date_unix_ms=whole(t.get("postDate")),
        amount=amount,
        description=text(t.get("description")).strip(),
        transaction_type=transaction_type,
        kind=transaction_kind(transaction_type, amount),
        symbol=text(product.get("symbol")).strip(),
        security_type=text(product.get("securityType")).strip(),
        quantity=num(brokerage.get("quantity")),
        price=num(brokerage.get("price")),
        fee=num(brokerage.get("fee")),
        settlement_date_unix_ms=whole(brokerage.get("settlementDate")),
    )


def parse_transaction_page(payload: JSON | None, account_id_key: str) -> tuple[list[Transaction], str | None]:
    """The transactions of one List Transactions page and the marker of the next (None: last page)."""
    body = obj(obj(payload).get("TransactionListResponse"))
    rows = [t for t in (_transaction(raw, account_id_key) for raw in as_list(body.get("Transaction"))) if t]
    more = body.get("moreTransactions")
    more_pages = more is True or (isinstance(more, str) and more.lower() == "true")
    marker = text(body.get("marker")) or None
    return rows, marker if more_pages and marker else None


def parse_transaction_details(payload: JSON | None, account_id_key: str) -> TransactionDetails | None:
    body = obj(obj(payload).get("TransactionDetailsResponse"))
    transaction = _transaction(body, account_id_key)
    if transaction is None:
        return None
    brokerage = obj(body.get("Brokerage") or body.get("brokerage"))
    category = obj(body.get("Category") or body.get("category"))
    return TransactionDetails(
        transaction=transaction,
        category=text(category.get("categoryName")).strip(),
        order_number=text(brokerage.get("orderNo")).strip(),
        memo=text(brokerage.get("memo") or body.get("memo")).strip(),
    )


class HistoryData:
    """Transactions of the user's accounts, cached with (and forgotten with) the account caches."""

    def __init__(self, gateway: EtradeGateway, accounts: AccountsData, clock: Clock) -> None:
        self._gateway = gateway
        self._clock = clock
        self._ranges: TtlCache[tuple[str, str, str], _Range] = TtlCache("transactions", clock, accounts.ttl)
        self._details: TtlCache[tuple[str, str], TransactionDetails] = TtlCache(
            "transaction_details", clock, accounts.ttl
        )
        accounts.add_dependent(self._invalidate)

    def _invalidate(self, account_id_key: str | None) -> None:
        if account_id_key is None:
            self._ranges.invalidate()
            self._details.invalidate()
        else:
            self._ranges.invalidate(lambda k: k[0] == account_id_key)
            self._details.invalidate(lambda k: k[0] == account_id_key)

    def cache_stats(self) -> list[CacheStats]:
        return [self._ranges.stats(), self._details.stats()]

    def _today(self) -> date:
        return datetime.fromtimestamp(self._clock.now(), ET).date()

    def date_range(self, start_date: str, end_date: str) -> tuple[date, date]:
        """YYYY-MM-DD (US Eastern); no end: up to today; no start: 30 days before the end. Checked
        against E*TRADE's limits."""

        def parse(raw: str, name: str) -> date | None:
            if not raw.strip():
                return None
            try:
                return datetime.strptime(raw.strip(), "%Y-%m-%d").date()
            except ValueError:
                raise InvalidRequest(ErrorCode.INVALID_ARGUMENT, f"{name} must be a date like 2026-03-10") from None

        today = self._today()
        start, end = parse(start_date, "start_date"), parse(end_date, "end_date")
        if start is None and end is None:
            end = today
        if start is None:
            assert end is not None
            start = end - timedelta(days=DEFAULT_DAYS)
        if end is None:
            end = max(today, start)
        if end < start:
            raise InvalidRequest(ErrorCode.INVALID_ARGUMENT, "end_date must not be before start_date")
        oldest = today - timedelta(days=HISTORY_DAYS)
        if start < oldest:
            raise InvalidRequest(
                ErrorCode.INVALID_ARGUMENT,
                f"E*TRADE keeps three years of transaction history: start_date must be on or after {oldest}",
            )
        return start, end

    async def transactions(
        self,
        account_id_key: str,
        *,
        start_date: str = "",
        end_date: str = "",
        kinds: Sequence[str] = (),
        symbol: str = "",
        limit: int = 0,
        deadline: Deadline | None = None,
    ) -> TransactionPage:
        """The account's transactions in the range, newest first, filtered, at most ``limit``."""
        key = check_account_key(account_id_key)
        wanted = {k.strip().upper() for k in kinds if k.strip()}
        unknown = sorted(wanted - set(KINDS))
        if unknown:
            raise InvalidRequest(
                ErrorCode.INVALID_ARGUMENT, f"unknown transaction kind {unknown[0]!r}; use one of {', '.join(KINDS)}"
            )
        if limit < 0 or limit > MAX_LIMIT:
            raise InvalidRequest(ErrorCode.INVALID_ARGUMENT, f"limit must be between 1 and {MAX_LIMIT}")
        limit = limit or DEFAULT_LIMIT
        start, end = self.date_range(start_date, end_date)
        only_symbol = symbol.strip().upper()
        deadline = deadline or Deadline.after(None)
        await self._gateway.require_session()
        cache_key = (key, start.isoformat(), end.isoformat())
        fetched = await self._ranges.get(cache_key, lambda: self._load_range(key, start, end, deadline))
        matching = [
            t
            for t in fetched.transactions
            if (not wanted or t.kind in wanted) and (not only_symbol or t.symbol.upper() == only_symbol)
        ]
        chosen = tuple(matching[:limit])
        return TransactionPage(
            account_id_key=key,
            start_date=start.isoformat(),
            end_date=end.isoformat(),
            transactions=chosen,
            truncated=fetched.more_upstream or len(matching) > limit,
            summary=summarize(chosen),
            fetched_at_unix_ms=fetched.fetched_at_unix_ms,
        )

    async def activity(
        self, account_id_key: str, *, start_date: str = "", end_date: str = "", deadline: Deadline | None = None
    ) -> PeriodActivity:
        """Dividends, interest, fees and FIFO-realised gains over a period (default: the year to date).

        Reads the whole history E*TRADE keeps up to the period's end, so sales can be matched to
        their purchases.
        """
        key = check_account_key(account_id_key)
        today = self._today()
        if not start_date.strip() and not end_date.strip():
            start, end = date(today.year, 1, 1), today
        else:
            start, end = self.date_range(start_date, end_date)
        oldest = today - timedelta(days=HISTORY_DAYS)
        deadline = deadline or Deadline.after(None)
        await self._gateway.require_session()
        cache_key = (key, oldest.isoformat(), end.isoformat())
        fetched = await self._ranges.get(cache_key, lambda: self._load_range(key, oldest, end, deadline))
        return period_activity(fetched.transactions, start, end, history_complete=not fetched.more_upstream)

    async def _get(self, key: str, suffix: str, params: dict[str, str], deadline: Deadline) -> JSON | None:
        return await get_account_json(self._gateway, key, suffix, params, deadline)

    async def _load_range(self, key: str, start: date, end: date, deadline: Deadline) -> _Range:
        params = {
            "startDate": start.strftime("%m%d%Y"),
            "endDate": end.strftime("%m%d%Y"),
            "sortOrder": "DESC",
            "count": str(PAGE_SIZE),
        }
        rows: list[Transaction] = []
        seen: set[str] = set()
        marker: str | None = None
        for _ in range(MAX_PAGES):
            page_params = dict(params, marker=marker) if marker else params
            payload = await self._get(key, "/transactions", page_params, deadline)
            page, marker = parse_transaction_page(payload, key)  # None payload (204): nothing in range
            rows.extend(t for t in page if t.transaction_id not in seen)
            seen.update(t.transaction_id for t in page)
            if marker is None:
                break
        rows.sort(key=lambda t: (t.transaction_date_unix_ms, t.transaction_id), reverse=True)
        return _Range(tuple(rows), marker is not None, int(self._clock.now() * 1000))

    async def transaction(
        self, account_id_key: str, transaction_id: str, *, deadline: Deadline | None = None
    ) -> TransactionDetails:
        key = check_account_key(account_id_key)
        tid = transaction_id.strip()
        if not _TRANSACTION_ID.match(tid):
            raise InvalidRequest(
                ErrorCode.INVALID_ARGUMENT, "transaction_id must be the digits of an id returned by get_transactions"
            )
        deadline = deadline or Deadline.after(None)
        await self._gateway.require_session()

        async def load() -> TransactionDetails:
            try:
                payload = await self._get(key, f"/transactions/{tid}", {}, deadline)
            except EtradeApiError as exc:
                if 400 <= exc.http_status < 500:
                    raise NotFound(
                        ErrorCode.TRANSACTION_NOT_FOUND, f"E*TRADE has no transaction {tid} in this account"
                    ) from None
                raise
            details = parse_transaction_details(payload, key)
            if details is None:
                raise NotFound(ErrorCode.TRANSACTION_NOT_FOUND, f"E*TRADE has no transaction {tid} in this account")
            return details

        return await self._details.get((key, tid), load)


@dataclass(frozen=True, slots=True)
class PeriodActivity:
    """What happened in an account over a period, from its transactions.

    Realised gains match each sale to earlier purchases first-in first-out (E*TRADE's default lot
    relief), over the history E*TRADE keeps (three years); a sale whose purchases are older than
    that has no known cost and is counted in ``unmatched_sales``, and ``complete`` is False.
    """

    start_date: str
    end_date: str
    dividends: float
    interest: float
    fees: float
    net_transfers: float
    sales: int
    proceeds: float
    cost_basis: float
    realized_gain: float
    realized_short_term: float
    realized_long_term: float
    unmatched_sales: int
    complete: bool


_YEAR_MS = 365 * 24 * 3600 * 1000


def period_activity(
    history: Sequence[Transaction], start: date, end: date, *, history_complete: bool = True
) -> PeriodActivity:
    """Income, costs and FIFO-realised gains of the sales dated ``start``..``end`` (US Eastern days).

    ``history`` must reach back before the period (it supplies the purchases sales are matched to).
    """
    lots: dict[str, list[list[float]]] = {}  # symbol -> [[signed quantity, cost per share, acquired ms]]
    in_period: list[Transaction] = []
    sales = unmatched = 0
    proceeds = cost = short_term = long_term = 0.0
    for t in sorted(history, key=lambda t: (t.transaction_date_unix_ms, t.transaction_id)):
        day = datetime.fromtimestamp(t.transaction_date_unix_ms / 1000, ET).date()
        counted = start <= day <= end
        if counted:
            in_period.append(t)
        if t.kind not in ("BUY", "SELL", "SELL_SHORT", "BUY_TO_COVER") or not t.symbol or not t.quantity:
            continue
        held = lots.setdefault(t.symbol.upper(), [])
        quantity = abs(t.quantity)
        per_share = abs(t.amount) / quantity
        opening = t.kind in ("BUY", "SELL_SHORT")
        sign = 1.0 if t.kind in ("BUY", "BUY_TO_COVER") else -1.0
        if not opening:
            # Closing: relieve the oldest lots of the opposite side.
            remaining, matched_cost, earliest = quantity, 0.0, []
            for lot in held:
                if remaining <= 0 or lot[0] * sign >= 0:
                    continue
                take = min(abs(lot[0]), remaining)
                matched_cost += take * lot[1]
                earliest.append((take, lot[2]))
                lot[0] += take * sign
                remaining -= take
            held[:] = [lot for lot in held if abs(lot[0]) > 1e-9]
            if counted:
                sales += 1
                if remaining > 1e-9:
                    unmatched += 1
                    continue
                # Long positions: gain = proceeds - cost; shorts: gain = short proceeds - cover cost.
                gain = (abs(t.amount) - matched_cost) if t.kind == "SELL" else (matched_cost - abs(t.amount))
                proceeds += abs(t.amount)
                cost += matched_cost
                long_share = sum(q for q, acquired in earliest if t.transaction_date_unix_ms - acquired > _YEAR_MS)
                long_gain = gain * long_share / quantity
                long_term += long_gain
                short_term += gain - long_gain
            continue
        held.append([quantity * sign, per_share, float(t.transaction_date_unix_ms)])
    summary = summarize(in_period)
    return PeriodActivity(
        start_date=start.isoformat(),
        end_date=end.isoformat(),
        dividends=summary.dividends,
        interest=summary.interest,
        fees=summary.fees,
        net_transfers=summary.net_transfers,
        sales=sales,
        proceeds=round(proceeds, 2),
        cost_basis=round(cost, 2),
        realized_gain=round(short_term + long_term, 2),
        realized_short_term=round(short_term, 2),
        realized_long_term=round(long_term, 2),
        unmatched_sales=unmatched,
        complete=history_complete and unmatched == 0,
    )
