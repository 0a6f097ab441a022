"""etrade-daemon: the broker service that owns the E*TRADE session (and ``daemon.client`` for its clients)."""
