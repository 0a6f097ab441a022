"""What a caller is told about a call the daemon did not finish: it stopped, was killed, or (for a
send) ran out of time. The one place that decides between "ask again" and "the outcome is unknown".

A read or a preview changed nothing, so asking again is safe: DAEMON_UNAVAILABLE, with a hint to
ask again. A call that may send an order or a cancel to E*TRADE (``sends_order``) may have taken
effect before the daemon went away, so it is never "try again": ORDER_OUTCOME_UNKNOWN, with where
to look. The daemon journals every send before it goes out and reconciles the unanswered ones
against E*TRADE's order list when it starts again.

Used by the client's channel (``broker_client/channel.py``) and by the daemon when it cuts calls
still running at the end of its stop grace (``daemon/rpc/drain.py``). Messages never contain
secrets or codes.
"""

from __future__ import annotations

from broker_client.errors import BrokerError, DaemonUnavailable, ErrorCode, UpstreamError

STOPPED_DURING_CALL = "the broker daemon stopped (shut down or restarting) before this call finished"
ASK_AGAIN = "ask again in a moment; if the daemon does not come back, `etradectl status` says why"

#: For a send whose answer never came: never send it again before its outcome is known.
CHECK_THE_OUTCOME = (
    "do NOT send it again: it may have reached E*TRADE. Once the daemon answers (`etradectl status`), "
    "it checks E*TRADE's order list and reports the outcome in `etradectl orders journal`; "
    "see also list_orders (`etradectl orders list`)"
)


def stopped_during_call() -> DaemonUnavailable:
    """A read or a preview the daemon did not finish because it stopped: safe to ask again."""
    return DaemonUnavailable(ErrorCode.DAEMON_UNAVAILABLE, STOPPED_DURING_CALL, hint=ASK_AGAIN)


def send_outcome_unknown(why: str, *, daemon_stopped: bool = True) -> UpstreamError:
    """A call that may have sent an order or a cancel, unanswered because ``why`` (a clause).
    ``daemon_stopped`` False: the daemon still runs (the caller ran out of time), so the code's own
    hint applies — the daemon is already checking."""
    return UpstreamError(
        ErrorCode.ORDER_OUTCOME_UNKNOWN,
        f"{why}, so the order or cancel request may or may not have been sent to E*TRADE",
        hint=CHECK_THE_OUTCOME if daemon_stopped else None,
    )


def unfinished(*, sends_order: bool) -> BrokerError:
    """The error for a call cut by the daemon's stopping (SIGTERM past the grace, or a crash)."""
    if sends_order:
        return send_outcome_unknown("the broker daemon stopped before it answered")
    return stopped_during_call()
