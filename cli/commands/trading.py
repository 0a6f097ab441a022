"""``etradectl halt|resume|audit``: the trading switch and the audit log."""

from __future__ import annotations

import argparse
import json
import time
from typing import TYPE_CHECKING, Any

from cli import exit_codes
from cli.commands import add_command, whole_number

if TYPE_CHECKING:
    from cli.main import Context
    from protos.broker.v1 import operator_pb2


def register(commands: Any) -> None:
    halt = add_command(
        commands,
        "halt",
        help="refuse every new preview, placement and cancel at once",
        description="Halts trading until `etradectl resume`. Survives a daemon restart. The circuit breaker\n"
        "halts by itself after repeated refusals, wrong codes or E*TRADE errors.",
        examples='  etradectl halt\n  etradectl halt "something looks wrong"',
    )
    halt.add_argument("reason", nargs="?", default="", help="why (shown with every refusal)")
    halt.set_defaults(handler=run_halt)

    resume = add_command(
        commands,
        "resume",
        help="end a halt",
        description="Trading is allowed again (unless read-only).",
        examples="  etradectl resume",
    )
    resume.set_defaults(handler=run_resume)

    audit = add_command(
        commands,
        "audit",
        help="the audit log (previews, confirmations, placements, cancels, logins, failures)",
        description="The daemon's append-only audit log; each entry is chained to the one before by a hash.\n"
        "`etradectl audit verify` recomputes the chain and reports a modified or deleted entry.",
        examples="  etradectl audit\n  etradectl audit --limit 200\n  etradectl audit verify",
    )
    audit.add_argument(
        "--limit", type=whole_number(1, 10_000), default=50, help="newest entries to show, 1-10000 (default 50)"
    )
    audit.set_defaults(handler=run_audit)
    audit_sub = audit.add_subparsers(title="audit commands", metavar="COMMAND")
    verify = add_command(
        audit_sub,
        "verify",
        help="check the hash chain",
        description=f"Exit status 0 when intact, {exit_codes.INTEGRITY} when an entry was modified or deleted.",
        examples="  etradectl audit verify\n  etradectl --json audit verify",
    )
    verify.set_defaults(handler=run_verify)


def _state_lines(ctx: Context, state: operator_pb2.TradingState) -> None:
    if state.halted:
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(state.halted_at_unix_ms / 1000))
        ctx.out.line(f"trading is HALTED since {since} by {state.halted_by}: {state.halt_reason}")
    if state.read_only:
        ctx.out.line("the daemon is read-only (ETRADE_READ_ONLY=true): it never trades, halted or not")
    elif not state.halted:
        ctx.out.line("trading is allowed")


async def run_halt(ctx: Context, args: argparse.Namespace) -> int:
    from broker_client.wire import message_to_dict

    state = await ctx.client().halt(args.reason)
    if ctx.out.json_mode:
        ctx.out.json(message_to_dict(state))
    else:
        _state_lines(ctx, state)
    return exit_codes.OK


async def run_resume(ctx: Context, args: argparse.Namespace) -> int:
    from broker_client.wire import message_to_dict

    state = await ctx.client().resume()
    if ctx.out.json_mode:
        ctx.out.json(message_to_dict(state))
    else:
        _state_lines(ctx, state)
    return exit_codes.OK


async def run_audit(ctx: Context, args: argparse.Namespace) -> int:
    response = await ctx.client().list_audit(limit=args.limit)
    if ctx.out.json_mode:
        ctx.out.json(
            {
                "entries": [
                    {
                        "seq": e.seq,
                        "at_unix_ms": e.at_unix_ms,
                        "event": e.event,
                        "data": json.loads(e.data_json or "{}"),
                        "prev_hash": e.prev_hash,
                        "hash": e.hash,
                    }
                    for e in response.entries
                ]
            }
        )
        return exit_codes.OK
    rows = [
        [
            str(e.seq),
            time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e.at_unix_ms / 1000)),
            e.event,
            _details(e.data_json),
        ]
        for e in response.entries
    ]
    if rows:
        ctx.out.table(["SEQ", "WHEN", "EVENT", "DETAILS"], rows, right=(0,))
    else:
        ctx.out.info("the audit log is empty")
    return exit_codes.OK


def _details(data_json: str) -> str:
    data = json.loads(data_json or "{}")
    parts = []
    # Who did it first, so truncation never hides it: the kernel's uid and pid, then the declared name.
    for key, label in (("caller_uid", "uid"), ("caller_pid", "pid"), ("client", "client")):
        if key in data:
            parts.append(f"{label}={data.pop(key)}")
    for key, value in data.items():
        if isinstance(value, dict):
            value = " ".join(f"{k}={v}" for k, v in value.items() if v not in ("", None))
        parts.append(f"{key}={value}")
    text = " ".join(parts)
    return text if len(text) <= 160 else text[:159] + "…"


async def run_verify(ctx: Context, args: argparse.Namespace) -> int:
    from broker_client.wire import message_to_dict

    result = await ctx.client().verify_audit()
    if ctx.out.json_mode:
        ctx.out.json(message_to_dict(result))
    elif result.ok:
        ctx.out.line(f"the audit log is intact ({result.entries} entries)")
    if not result.ok:
        ctx.out.error(
            f"the audit log is NOT intact: {result.problem}",
            "keep a copy of the file for investigation; the daemon's state dir holds audit.jsonl",
        )
        return exit_codes.INTEGRITY
    return exit_codes.OK
