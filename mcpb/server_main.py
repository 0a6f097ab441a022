"""The bundle's entry point (``server/main.py`` inside the ``.mcpb``): start ``etrade-mcp``.

The host runs it with ``PYTHONPATH`` set to the bundle's ``server/lib`` (see manifest.json), where
``mcpb.build`` installed the wheel and its dependencies; the daemon's socket comes from the user's
configuration through ``ETRADE_MCP_SOCKET``.
"""

from mcp_proxy.main import main

raise SystemExit(main())
