"""Operator service: the human's side (pending orders with codes, confirm, halt, audit, journal).

Calls that identify as the MCP proxy are refused: the proxy has no reason to see a code, and a
bug that wired one of these calls into a tool must fail loudly rather than leak one. A declared
name only ever refuses, never grants. In single-user mode the proxy and etradectl run as the same
user, so this is defence in depth and the boundary is the proxy's tool set; in protected mode the
boundary is the kernel's: ``daemon/rpc/authority.py`` lets only root and the daemon's own user reach
the calls here that show codes, confirm, resume or change the journal.
"""

from __future__ import annotations

from typing import Any

import grpc

from broker_client.errors import ErrorCode, PolicyRefused
from daemon.app import BrokerApp
from daemon.orders.service import CancelledOrder
from daemon.rpc.convert import operator as convert
from daemon.rpc.convert import orders as order_convert
from daemon.rpc.rpc_errors import translate_errors
from daemon.rpc.servicers.orders import client_name
from protos.broker.v1 import operator_pb2, operator_pb2_grpc

Ctx = grpc.aio.ServicerContext

PROXY_PREFIX = "etrade-mcp"


def operator_name(context: Any) -> str:
    name = client_name(context)
    if name.startswith(PROXY_PREFIX):
        raise PolicyRefused(ErrorCode.OPERATOR_ONLY, "the MCP proxy may not use the operator's calls")
    return name or "operator"


class OperatorServicer(operator_pb2_grpc.OperatorServicer):
    def __init__(self, app: BrokerApp) -> None:
        self.app = app

    @translate_errors
    async def ListPending(
        self,
        request: operator_pb2.ListPendingRequest,
        context: Ctx[operator_pb2.ListPendingRequest, operator_pb2.ListPendingResponse],
    ) -> operator_pb2.ListPendingResponse:
        operator_name(context)
        orders = self.app.orders
        active = orders.pending.active()
        return operator_pb2.ListPendingResponse(
            pending=[convert.pending_with_code(p, orders.pending) for p in active],
            journal_attention=await orders.attention(),
            as_of_unix_ms=int(self.app.clock.now() * 1000),
        )

    @translate_errors
    async def ConfirmPending(
        self,
        request: operator_pb2.ConfirmPendingRequest,
        context: Ctx[operator_pb2.ConfirmPendingRequest, operator_pb2.ConfirmPendingResponse],
    ) -> operator_pb2.ConfirmPendingResponse:
        who = operator_name(context)
        orders = self.app.orders
        result = await orders.operator_confirm(request.pending_id, request.digest, client=who)
        if isinstance(result, CancelledOrder):
            return operator_pb2.ConfirmPendingResponse(cancelled=order_convert.cancelled(result, orders.pending))
        return operator_pb2.ConfirmPendingResponse(placed=order_convert.placed(result, orders.pending))

    @translate_errors
    async def RejectPending(
        self,
        request: operator_pb2.RejectPendingRequest,
        context: Ctx[operator_pb2.RejectPendingRequest, operator_pb2.RejectPendingResponse],
    ) -> operator_pb2.RejectPendingResponse:
        who = operator_name(context)
        orders = self.app.orders
        rejected = await orders.reject(request.pending_id, client=who)
        return operator_pb2.RejectPendingResponse(pending=order_convert.pending(rejected, orders.pending))

    async def _state(self) -> operator_pb2.TradingState:
        orders = self.app.orders
        return convert.trading_state(await orders.trading_state(), orders.breaker.threshold)

    @translate_errors
    async def Halt(
        self, request: operator_pb2.HaltRequest, context: Ctx[operator_pb2.HaltRequest, operator_pb2.TradingState]
    ) -> operator_pb2.TradingState:
        who = operator_name(context)
        await self.app.orders.halt(request.reason.strip()[:200] or "halted by the operator", by=who)
        return await self._state()

    @translate_errors
    async def Resume(
        self, request: operator_pb2.ResumeRequest, context: Ctx[operator_pb2.ResumeRequest, operator_pb2.TradingState]
    ) -> operator_pb2.TradingState:
        who = operator_name(context)
        await self.app.orders.resume(by=who)
        return await self._state()

    @translate_errors
    async def GetTradingState(
        self,
        request: operator_pb2.GetTradingStateRequest,
        context: Ctx[operator_pb2.GetTradingStateRequest, operator_pb2.TradingState],
    ) -> operator_pb2.TradingState:
        operator_name(context)
        return await self._state()

    @translate_errors
    async def ListAudit(
        self,
        request: operator_pb2.ListAuditRequest,
        context: Ctx[operator_pb2.ListAuditRequest, operator_pb2.ListAuditResponse],
    ) -> operator_pb2.ListAuditResponse:
        operator_name(context)
        limit = request.limit if request.limit > 0 else 50
        entries = await self.app.orders.audit_entries(limit=min(limit, 10_000), after_seq=request.after_seq)
        return operator_pb2.ListAuditResponse(entries=[convert.audit_entry(e) for e in entries])

    @translate_errors
    async def VerifyAudit(
        self,
        request: operator_pb2.VerifyAuditRequest,
        context: Ctx[operator_pb2.VerifyAuditRequest, operator_pb2.VerifyAuditResponse],
    ) -> operator_pb2.VerifyAuditResponse:
        operator_name(context)
        result = await self.app.orders.verify_audit()
        return operator_pb2.VerifyAuditResponse(
            ok=result.ok, entries=result.entries, problem=result.problem, first_bad_seq=result.first_bad_seq
        )

    @translate_errors
    async def GetJournal(
        self,
        request: operator_pb2.GetJournalRequest,
        context: Ctx[operator_pb2.GetJournalRequest, operator_pb2.GetJournalResponse],
    ) -> operator_pb2.GetJournalResponse:
        operator_name(context)
        limit = request.limit if request.limit > 0 else 100
        entries, problem = await self.app.orders.journal_report(everything=request.all, limit=limit)
        return operator_pb2.GetJournalResponse(
            entries=[convert.journal_entry(e) for e in entries], reconcile_problem=problem
        )

    @translate_errors
    async def AcknowledgeJournalEntry(
        self,
        request: operator_pb2.AcknowledgeJournalEntryRequest,
        context: Ctx[operator_pb2.AcknowledgeJournalEntryRequest, operator_pb2.JournalEntry],
    ) -> operator_pb2.JournalEntry:
        who = operator_name(context)
        return convert.journal_entry(await self.app.orders.acknowledge(request.id, client=who))

    @translate_errors
    async def ResolveJournalEntry(
        self,
        request: operator_pb2.ResolveJournalEntryRequest,
        context: Ctx[operator_pb2.ResolveJournalEntryRequest, operator_pb2.JournalEntry],
    ) -> operator_pb2.JournalEntry:
        who = operator_name(context)
        entry = await self.app.orders.resolve_entry(
            request.id, order_id=request.order_id, not_placed=request.not_placed, client=who
        )
        return convert.journal_entry(entry)
