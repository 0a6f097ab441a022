"""Orders: the model previews, the human confirms.

Plain domain code, no gRPC or MCP (the servicers in ``daemon/rpc/servicers/`` translate):

- ``model``       the order, E*TRADE's preview and orders, risk findings (exact ``Decimal`` prices);
- ``validation``  what an order must look like before anything goes upstream, and the static policy
                  (read-only, limits, allow-lists, the price band);
- ``risk``        buying power, position, concentration, daily limits, volatility (hard or soft);
- ``etrade``      E*TRADE's order request bodies and answers;
- ``pending``     pending confirmations: one-time codes bound to a digest of the exact order;
- ``journal``     the durable SQLite record written before every place or cancel request;
- ``breaker``     the halt switch and the circuit breaker that throws it;
- ``tracker``     every order's last-known status, the one source of ORDER_STATUS_CHANGED;
- ``watcher``     the fill watcher;
- ``desk/``       the order desk's parts (trading gate, tally, reads, preview, send, journal operations,
                  placement-time checks, reconciliation), each with its own small config;
- ``service``     :class:`OrderService`, the facade composing the desk that the servicers call.

The audit log lives in ``daemon.audit`` (logins use it too).

May import: ``broker_client``, ``daemon.audit`` and the daemon's data layers (gateway, market, accounts,
events, clock, settings for the facade's wiring, the session's errors); never the servicers or gRPC.
"""
