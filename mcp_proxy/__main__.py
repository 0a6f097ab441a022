from mcp_proxy.main import main

raise SystemExit(main())
