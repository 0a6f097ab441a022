"""etrade-mcp: a stateless stdio MCP proxy to etrade-daemon.

Layers, top to bottom (``lint-imports`` contract ``proxy-layers``; nothing imports upward):
``main`` → ``server`` (composes everything) and ``stdio`` → the tool, prompt and order-resource
modules → ``live`` → ``account_resources`` and ``resources`` → ``completions`` and ``tool_support``
→ ``daemon_link`` (the one connection to the daemon) → the output models (``*models.py``).
It reaches the daemon only through ``broker_client`` (never ``daemon``, ``cli`` or ``emulator``).
"""
