"""MCP prompts: workflows a trader picks from the client's menu, with arguments.

Each prompt is a set of instructions for the model: which tools to call, in which order, what to
check, and how to present the answer. They never fetch account data themselves (the model does,
with the tools, so the numbers stay visible in the conversation); the one exception is
``market_summary``, which expands ``watchlist:NAME`` into the watchlist's symbols. None of them
places an order: trading stays a human decision confirmed outside the model (see order_review).

Arguments are checked before anything is rendered, and completions offer account keys,
watchlist names and common strategies and targets.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Annotated

from mcp.server import MCPServer
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS
from pydantic import Field

from mcp_proxy.account_resources import account_keys, watchlist_names
from mcp_proxy.completions import Completions, fixed
from mcp_proxy.daemon_link import DaemonLink

# The risk disclaimer of the implementation plan (section 14), verbatim in substance.
DISCLAIMER = """\
Risk disclaimer (repeat it to the user in your answer): this analysis is educational and informational.
- Trading involves risk of loss.
- Past performance doesn't guarantee future results.
- LLM suggestions are not financial advice.
- Users are responsible for all trading decisions.
- Always verify trades before execution.
- Start with paper trading or small positions.
- Consult financial advisors for investment decisions."""

NO_ORDERS = (
    "Do not preview, place or cancel any order in this workflow. If the user then asks to act, preview "
    "one order at a time with preview_order; only the human can confirm it (with a code shown in their "
    "terminal by `etradectl orders pending`), and you never guess or invent a code."
)

STRATEGIES = (
    "buy and hold",
    "dollar-cost averaging",
    "momentum",
    "mean reversion",
    "breakout",
    "dividend income",
    "value",
    "growth at a reasonable price",
    "pairs trade",
    "short sale",
    "covered call",
    "protective put",
)

REBALANCING_TARGETS = (
    "equal weight across positions",
    "60/40 stocks/bonds",
    "80/20 stocks/bonds",
    "no position above 10%",
    "no sector above 25%",
    "keep 5% cash",
)

WATCHLIST_PREFIX = "watchlist:"
_ACCOUNT_KEY = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
_PENDING_ID = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
_MAX_FREE_TEXT = 200

AccountKey = Annotated[
    str, Field(description="The account's account_id_key (from list_accounts; completion lists them)")
]


def _invalid(message: str) -> MCPError:
    return MCPError(code=INVALID_PARAMS, message=message)


def _account(raw: str) -> str:
    key = raw.strip()
    if not _ACCOUNT_KEY.match(key):
        raise _invalid(f"{key[:40]!r} is not an account_id_key; pick one from list_accounts (completion lists them)")
    return key


def _free_text(raw: str, what: str) -> str:
    text = " ".join(raw.split())
    if not text:
        raise _invalid(f"the {what} is empty")
    if len(text) > _MAX_FREE_TEXT:
        raise _invalid(f"the {what} is longer than {_MAX_FREE_TEXT} characters")
    return text


def portfolio_analysis_text(key: str) -> str:
    return f"""\
Analyse my E*TRADE account {key} and tell me what deserves my attention.

1. Call analyze_portfolio(account_id_key="{key}"). It gives allocation by position, asset class and
   sector (with the cash share), unrealised P&L, concentration, the day's change, and in `activity`
   the year to date from the account's transactions: dividends, interest, fees and realised gains
   (short and long term). Read its notes: sectors come from a table bundled with etrade-mcp,
   not from E*TRADE, and unknown symbols are "Unknown" - never guess a sector for them.
2. Call get_account_balance(account_id_key="{key}") for buying power, and for margin accounts the
   margin balance.
3. For the largest position and the biggest loser, call get_position_details to see their tax lots
   (short-term or long-term, acquisition dates).

Check and report:
- Concentration: any holding above 10% of gross exposure, the top five above 50%, a Herfindahl index
  above 0.15 (fewer than about 7 effective positions).
- Sectors and asset classes: any sector above 25-30%, missing diversifiers (bonds, international),
  and how much of the portfolio has an Unknown sector.
- Cash: a large idle share, or negative cash (margin borrowing).
- Short positions: their size and that their loss is not capped.
- P&L: biggest winners and losers, positions down more than 20% from cost, and today's move.
- Income and realised results this year (from `activity`): dividends, interest and fees, realised
  gains split short/long term. If `activity.complete` is false, say that some sales have no known
  cost. For dividends by symbol, call get_transactions(account_id_key="{key}", start_date=<Jan 1 of
  this year>, kinds=["DIVIDEND"]).

Present a short table (total value, cash %, largest position %, effective positions, unrealised P&L,
day change, dividends and realised gains year to date), then the points above in order of importance, each with the numbers from the tool
results. Do not invent data the tools did not return. {NO_ORDERS}"""


def market_summary_text(symbols: Sequence[str], source: str) -> str:
    listed = ", ".join(symbols)
    return f"""\
Give me a market summary of {listed}{source}.

1. Call get_multiple_quotes(symbols={json.dumps(list(symbols))}) once (it takes up to 50 symbols).
2. For each symbol report: last price, change and change %, the day's range against the open, volume
   against average volume, where the price sits in its 52-week range (as a percentage from the low),
   and P/E and dividend yield when present.
3. Flag: moves larger than 3%, volume above 1.5x its average, prices within 5% of a 52-week high or
   low, and quotes that are not REALTIME (say when the market is closed or the quote is delayed,
   using quote_status and the quote time).
4. Group the symbols into gainers and losers, then end with two or three sentences on the overall
   picture. If some symbols could not be quoted (the errors list), name them and why.

This is a factual summary, not a recommendation to buy or sell. {NO_ORDERS}"""


def trade_idea_text(symbol: str, strategy: str) -> str:
    return f"""\
Help me understand a trade idea, for education: {strategy} on {symbol}.

1. Call get_stock_quote(symbol="{symbol}") for the price, day range, 52-week range, volume, P/E,
   dividend yield and beta.
2. Call list_accounts, then for the account I would use get_position_details(symbol="{symbol}") to
   see whether I already hold it (POSITION_NOT_FOUND means I do not) and analyze_portfolio to see
   how a position would change my concentration and sector exposure.

Explain, with the numbers from those calls:
- How the strategy works and what has to be true for it to succeed.
- Entry and exit criteria, where a stop or exit would go, and the maximum loss.
- Position sizing: for example risking at most 1-2% of the account's value on the idea, and what
  that means in shares at the current price.
- Bull, base and bear scenarios, and what would prove the idea wrong.
- Costs and taxes (commissions, short-term gains), and for short sales or options the extra risks
  (margin, borrowing, assignment, losses that are not capped).
- Whether the account's type and buying power allow the strategy at all.

{DISCLAIMER}

{NO_ORDERS}"""


def tax_loss_harvesting_text(key: str) -> str:
    return f"""\
Find tax-loss harvesting candidates in my E*TRADE account {key}.

1. Call list_accounts: if {key} is an IRA or Roth IRA, stop and explain that losses in a
   tax-advantaged account cannot be harvested. Note my other accounts for the wash-sale check.
2. Call analyze_portfolio(account_id_key="{key}") and take the holdings with a negative total_gain.
3. For each of them call get_position_details(account_id_key="{key}", symbol=...) for its tax lots:
   the loss per lot, SHORT or LONG term, and the acquisition date.
4. For every account from step 1 (IRAs included), call get_transactions(account_id_key=...,
   kinds=["BUY", "SELL", "SELL_SHORT", "BUY_TO_COVER"]). Without dates it returns E*TRADE's record of
   the last 30 days - the wash-sale look-back window. If `truncated` is true, ask for less per call.

Check:
- The loss per lot (lots can be sold selectively), separated into short-term and long-term.
- Wash sales: a purchase of the same or a substantially identical security within 30 days before or
  after the sale disallows the loss. From step 4: a candidate bought in any of my accounts in the last
  30 days would make a sale at a loss now a wash sale (up to the shares bought) - name those
  purchases with their dates; a symbol I already sold in the last 30 days (possibly at a loss) must
  not be bought back before 30 days after that sale (give the date). Also flag lots bought in the last
  30 days, and tell me not to buy a harvested symbol back within 30 days.
- A replacement that keeps similar market exposure without being substantially identical (for
  example a different index fund or a sector ETF), with the caveat that this is a judgement call.
- That net capital losses offset gains first and then at most $3,000 of ordinary income a year
  (US rules; $1,500 if married filing separately), with the rest carried forward. Take this
  account's realised gains so far this year from analyze_portfolio's `activity` (short and long
  term), and ask me about gains realised elsewhere instead of assuming.

Present a table of candidate lots (symbol, lot, acquired, term, cost, value, loss) with the total,
then the wash-sale warnings with the transactions behind them. This is not tax advice: tell me to confirm with a tax professional.

{NO_ORDERS}"""


def rebalancing_text(key: str, target: str) -> str:
    return f"""\
Propose how to rebalance my E*TRADE account {key} toward this target: {target}.

1. Call analyze_portfolio(account_id_key="{key}") for current weights by position, asset class and
   sector, and the cash share.
2. Turn the target into explicit weights and state your interpretation; if it is ambiguous, ask me
   before going further.
3. Call get_multiple_quotes for every symbol you would trade, for current prices.

Then compute, per bucket: current weight, target weight, drift in percentage points and in dollars,
and the trades that close the drift, in whole shares (round down; say what is left in cash).
- Use available cash before selling, and prefer the fewest trades.
- Leave drifts under 5 percentage points alone unless I asked for exact weights.
- Selling winners in a taxable account realises gains: check lots with get_position_details and
  prefer lots with losses or long-term gains. IRAs have no such cost.
- Do not let a single resulting position exceed 10% of the account unless the target says so.

Present the current vs target table, the proposed trades (symbol, buy or sell, shares, approximate
value) and the cash left. This is a proposal only.

{DISCLAIMER}

{NO_ORDERS}"""


def order_review_text(pending_id: str) -> str:
    return f"""\
Review the pending order {pending_id} with me before I decide whether to confirm it.

1. Find its preview: the preview_order result with pending_id "{pending_id}" in this conversation
   (account, symbol, action, quantity, price type, limit or stop price, term, E*TRADE's estimated
   cost and commission, E*TRADE's messages, the risk checks, and when the pending order expires).
   If it is not in this conversation, say so and ask me to run `etradectl orders pending`, or preview
   the order again with preview_order. Never reconstruct an order from memory.
2. Market: call get_stock_quote for the symbol. Compare a limit or stop price with the last price and
   the bid/ask, note the spread, and whether the market is open (a market order outside the regular
   session waits for the open).
3. Account: call get_account_balance for buying power against the estimated cost, and analyze_portfolio
   for the position's share of the account after the trade. For a sell, check with
   get_position_details that the account holds enough shares (otherwise it is a short sale) and which
   lots would be sold (short-term gains are taxed higher).
4. Duplicates: call list_orders for the account with status OPEN and look for an open order in the
   same symbol and direction; get_order_details shows one in full.
5. Read E*TRADE's messages and every risk-check warning in the preview.

Then give me a one-screen summary: what the order does, what it costs, every concern found above,
and whether it matches what I asked for.

How confirmation works: only I can confirm. I either confirm it myself in my terminal with
`etradectl orders confirm {pending_id}`, or I read its code from `etradectl orders pending` and tell it
to you; only then may you call place_order_confirmed(pending_id="{pending_id}", confirmation_code=<the code I typed>).
Never guess, reuse or invent a code, and never call place_order_confirmed without a code I gave you for
this pending order. If I want any change, preview a new order instead; to drop this one I run
`etradectl orders reject {pending_id}`. Cancelling an order that was already placed works the same way:
cancel_order creates a pending cancel, which I confirm and you complete with cancel_order_confirmed.

{DISCLAIMER}"""


def register_prompts(server: MCPServer, daemon: DaemonLink, completions: Completions) -> None:
    @server.prompt(title="Portfolio analysis")
    def portfolio_analysis(account_id_key: AccountKey) -> str:
        """Analyse an account: allocation, sectors, concentration, cash, P&L and the day's move, with the
        points that deserve attention."""
        return portfolio_analysis_text(_account(account_id_key))

    @server.prompt(title="Market summary")
    async def market_summary(
        symbols: Annotated[
            str,
            Field(
                description="Ticker symbols separated by commas or spaces (e.g. AAPL, MSFT, SPY), or "
                "watchlist:NAME for a configured watchlist (completion lists them)"
            ),
        ],
    ) -> str:
        """Summarise the day for a list of symbols or a watchlist: moves, volume, 52-week position,
        valuation, and what stands out."""
        text = symbols.strip()
        if text.lower().startswith(WATCHLIST_PREFIX):
            from broker_client.errors import BrokerError

            name = text[len(WATCHLIST_PREFIX) :].strip()
            try:
                watchlist = (await daemon.client().get_watchlist(name)).watchlist
            except BrokerError as exc:
                raise _invalid(f"{exc.message}. Next step: {exc.hint}") from None
            if not watchlist.symbols:
                raise _invalid(f"the watchlist {watchlist.name!r} is empty; add symbols with `etradectl watchlist add`")
            return market_summary_text(list(watchlist.symbols), f" (my watchlist {watchlist.name})")
        return market_summary_text(_symbols(text), "")

    @server.prompt(title="Trade idea analysis (educational)")
    def trade_idea_analysis(
        symbol: Annotated[str, Field(description="Ticker symbol, e.g. AAPL")],
        strategy: Annotated[
            str, Field(description="The strategy to analyse, e.g. momentum, dividend income, short sale")
        ],
    ) -> str:
        """Educational analysis of a trade idea: mechanics, entry and exit, sizing, scenarios and risks,
        with the risk disclaimer. Places nothing."""
        return trade_idea_text(_symbols(symbol, single=True)[0], _free_text(strategy, "strategy"))

    @server.prompt(title="Tax-loss harvesting")
    def tax_loss_harvesting(account_id_key: AccountKey) -> str:
        """Find lots with unrealised losses worth harvesting, with wash-sale and term checks."""
        return tax_loss_harvesting_text(_account(account_id_key))

    @server.prompt(title="Rebalancing proposal")
    def rebalancing(
        account_id_key: AccountKey,
        target: Annotated[
            str,
            Field(
                description="The target allocation, e.g. '60/40 stocks/bonds', 'equal weight', 'no position above 10%'"
            ),
        ],
    ) -> str:
        """Propose the trades that move an account toward a target allocation (a proposal only)."""
        return rebalancing_text(_account(account_id_key), _free_text(target, "target"))

    @server.prompt(title="Review a pending order")
    def order_review(
        pending_id: Annotated[str, Field(description="The pending_id returned by preview_order")],
    ) -> str:
        """Check a previewed order against the market, the account and open orders before the human
        confirms it, and explain how confirmation works (only the human holds the code)."""
        pending = pending_id.strip()
        if not _PENDING_ID.match(pending):
            raise _invalid(f"{pending[:40]!r} is not a pending_id; use the one preview_order returned")
        return order_review_text(pending)

    async def accounts(partial: str, chosen: Mapping[str, str]) -> Sequence[str]:
        return await account_keys(daemon)

    async def watchlist_choices(partial: str, chosen: Mapping[str, str]) -> Sequence[str]:
        return [WATCHLIST_PREFIX + name for name in await watchlist_names(daemon)]

    async def watched_symbols(partial: str, chosen: Mapping[str, str]) -> Sequence[str]:
        response = await daemon.client().list_watchlists()
        return [symbol for watchlist in response.watchlists for symbol in watchlist.symbols]

    for prompt in ("portfolio_analysis", "tax_loss_harvesting", "rebalancing"):
        completions.for_prompt(prompt, "account_id_key", accounts)
    completions.for_prompt("rebalancing", "target", fixed(REBALANCING_TARGETS))
    completions.for_prompt("market_summary", "symbols", watchlist_choices)
    completions.for_prompt("trade_idea_analysis", "symbol", watched_symbols)
    completions.for_prompt("trade_idea_analysis", "strategy", fixed(STRATEGIES))


def _symbols(text: str, *, single: bool = False) -> list[str]:
    """Validated, upper-cased, de-duplicated symbols from a comma- or space-separated list."""
    # Imported on use: daemon.models' dataclasses would add ~10 ms to the proxy's start-up.
    from broker_client.errors import InvalidRequest
    from broker_client.symbols import MAX_SYMBOL_LENGTH, normalize_symbol

    parts = [part for part in re.split(r"[\s,;]+", text) if part]
    if not parts:
        raise _invalid("no symbols were given; e.g. AAPL, MSFT")
    if single and len(parts) > 1:
        raise _invalid(f"give one symbol, not {len(parts)}")
    if len(parts) > 50:
        raise _invalid(f"{len(parts)} symbols were given; at most 50 fit one quote request")
    symbols: list[str] = []
    for part in parts:
        try:
            symbol = normalize_symbol(part)
        except InvalidRequest as exc:
            raise _invalid(
                f"{exc.message} (symbols have at most {MAX_SYMBOL_LENGTH} characters, e.g. AAPL, BRK.B)"
            ) from None
        if symbol not in symbols:
            symbols.append(symbol)
    return symbols
