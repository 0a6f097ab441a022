"""etradectl: the operator's command-line tool for etrade-mcp."""
