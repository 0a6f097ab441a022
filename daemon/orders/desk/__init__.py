"""The order desk's parts, composed by :class:`daemon.orders.service.OrderService`.

- ``config``       the small frozen configs each part takes, built from ``Settings``;
- ``core``         shared stores, the one I/O thread, audit recording, events, the requests in flight;
- ``trading``      read-only, halt/resume, the circuit breaker (:class:`TradingGate`);
- ``tally``        today's orders for the daily limits (:class:`DailyTally`);
- ``reads``        list/get feeding the tracker, and the Orders module's request path;
- ``preview``      previews and cancel requests → pending confirmations (:class:`PreviewDesk`);
- ``send``         place and cancel: claim, re-check, journal, at-most-once send, 401s (:class:`SendDesk`);
- ``journal_ops``  start-up settling, the reconcile loop, the operator's journal commands (:class:`JournalDesk`);
- ``placement``    the placement-time checks (drift, session, market-order protection), pure;
- ``reconcile``    matching an unknown outcome against E*TRADE's order list, pure.

May import: the rest of ``daemon.orders`` (model, validation, risk, etrade, pending, journal, breaker,
tracker), ``daemon.audit``, and the daemon's data layers (gateway, market,
accounts, events, clock, session errors); never the servicers or gRPC.
"""
