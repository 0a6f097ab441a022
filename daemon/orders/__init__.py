"""Orders: the model previews, the human confirms.

Plain domain code, no gRPC or MCP (the servicers in ``daemon/servicers/`` translate):

- ``model``       the order, E*TRADE's preview and orders, risk findings (exact ``Decimal`` prices);
- ``validation``  what an order must look like before anything goes upstream, and the static policy
                  (read-only, limits, allow-lists, the price band);
- ``risk``        buying power, position, concentration, daily limits, volatility (hard or soft);
- ``etrade``      E*TRADE's order request bodies and answers;
- ``pending``     pending confirmations: one-time codes bound to a digest of the exact order;
- ``journal``     the durable SQLite record written before every place or cancel request;
- ``audit``       the append-only, hash-chained audit log;
- ``breaker``     the halt switch and the circuit breaker that throws it;
- ``reconcile``   matching an unknown outcome against E*TRADE's order list;
- ``service``     the orchestration the servicers call.
"""
