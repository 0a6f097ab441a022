"""etrade-mcp: a stateless stdio MCP proxy to etrade-daemon."""
