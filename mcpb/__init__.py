"""The MCP bundle (``.mcpb``) for Claude Desktop: its manifest and the script that packs it.

Not part of the installed product: ``make bundle`` runs ``python -m mcpb.build``, which installs the
wheel with its dependencies into the bundle's ``server/lib`` and zips it with ``manifest.json``.
May import the standard library and ``broker_client`` (for the release number) only.
"""
