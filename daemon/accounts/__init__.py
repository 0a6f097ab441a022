"""The user's accounts: balances, positions, transactions, analytics, alerts and watchlists.

What lives here: :mod:`~daemon.accounts.accounts` (account list, balances, portfolio, positions),
:mod:`~daemon.accounts.history` (transactions), :mod:`~daemon.accounts.analytics` (portfolio
analysis from positions and history), :mod:`~daemon.accounts.alerts` (the E*TRADE alert inbox),
:mod:`~daemon.accounts.watchlists` (the local watchlists file).

May import: ``daemon.market`` (quotes, sectors, the TTL cache), ``daemon.gateway``,
``daemon.etrade`` and the bottom layer. Never ``daemon.orders`` or gRPC.
"""
