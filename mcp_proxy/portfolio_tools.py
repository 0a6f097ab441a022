"""Tools beyond the plain reads: portfolio analytics (with progress) and the configured watchlists."""

from __future__ import annotations

from typing import Annotated

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from mcp_proxy.analytics_models import PortfolioAnalysis, WatchlistList
from mcp_proxy.daemon_link import DaemonLink
from mcp_proxy.models import message_to_dict
from mcp_proxy.tool_support import READ_ONLY, AccountKeyArg, call_daemon, tool_errors

DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"


def register_portfolio_tools(server: MCPServer, daemon: DaemonLink) -> None:
    @server.tool(title="Portfolio analytics", annotations=READ_ONLY)
    async def analyze_portfolio(
        account_id_key: AccountKeyArg,
        ctx: Context,
        period_start: Annotated[
            str | None, Field(description="Start of the activity period, YYYY-MM-DD", pattern=DATE_PATTERN)
        ] = None,
        period_end: Annotated[
            str | None, Field(description="End of the activity period, YYYY-MM-DD", pattern=DATE_PATTERN)
        ] = None,
    ) -> PortfolioAnalysis:
        """Analyse an account: allocation by position, asset class and sector (plus cash share),
        unrealised P&L totals with the biggest winner and loser, concentration (largest position,
        top five, Herfindahl index), the day's change, and over a period (default: the year to
        date) the dividends, interest, fees and realised gains (FIFO, short/long term) from the
        account's transactions. Computed by the daemon from E*TRADE's portfolio (all pages),
        balance and transactions. Sectors are NOT E*TRADE data: they come from a table bundled
        with etrade-mcp (see sector_source and notes; unknown symbols are 'Unknown').
        Reports progress while it fetches when the client asks for it."""
        with tool_errors():
            stream = daemon.client().analyze_portfolio(
                account_id_key, period_start=period_start or "", period_end=period_end or ""
            )
            async for update in stream:
                if update.HasField("progress"):
                    step = update.progress
                    await ctx.report_progress(step.done, step.total or None, step.message)
                elif update.HasField("analysis"):
                    return PortfolioAnalysis.model_validate(message_to_dict(update.analysis))
        raise ToolError(
            "the daemon ended the analysis without a result. Next step: try again; "
            "the daemon's log has the details. [INTERNAL]"
        )

    @server.tool(title="Watchlists", annotations=READ_ONLY)
    async def list_watchlists() -> WatchlistList:
        """List the user's watchlists (name and symbols), as configured in the daemon's config file
        and edited with `etradectl watchlist add|remove`. Quote a watchlist with get_multiple_quotes,
        or read the resource market://watchlist/{name}."""
        response = await call_daemon(daemon.client().list_watchlists())
        return WatchlistList.model_validate(message_to_dict(response))
