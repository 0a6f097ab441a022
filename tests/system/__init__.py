"""The installation and the host: the wheel in a fresh venv, the MCP bundle's manifest, service units, generated code, protected mode (root-only tests skip with a reason when not root)."""
