"""etrade-daemon: the broker service that owns the E*TRADE session; its clients use ``broker_client``."""
