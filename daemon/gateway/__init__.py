"""The one way to E*TRADE for domain code: rate limits, retries and deadlines around the session.

What lives here: :mod:`~daemon.gateway.gateway` (``EtradeGateway``: every E*TRADE call, signed
through the session), :mod:`~daemon.gateway.ratelimit` (per-module token buckets),
:mod:`~daemon.gateway.retry` (what is transient, back-off), :mod:`~daemon.gateway.deadline` (a
call's time budget, carried from the gRPC deadline down to the HTTP timeout).

May import: ``daemon.session`` (the gateway signs through it), ``daemon.etrade`` and the bottom
layer. Never the domain packages (accounts, market, orders) or gRPC.
"""
