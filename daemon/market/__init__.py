"""Market data: quotes (with their cache), products, option chains, sectors and market hours.

What lives here: :mod:`~daemon.market.market` (quotes and product lookup through the gateway),
:mod:`~daemon.market.quote_cache` (the quote cache and its freshness rules),
:mod:`~daemon.market.ttl_cache` (the small TTL cache the account and option reads share),
:mod:`~daemon.market.options` (chains, expirations, option quotes), :mod:`~daemon.market.sectors`
(symbol → sector table), :mod:`~daemon.market.market_hours` (the regular session, on the daemon's
clock).

May import: ``daemon.gateway``, ``daemon.etrade`` and the bottom layer. Never ``daemon.accounts``,
``daemon.orders`` or gRPC.
"""
