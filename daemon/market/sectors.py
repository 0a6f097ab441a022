"""A small sector table shipped with the daemon, because E*TRADE does not report sectors.

E*TRADE's quote and portfolio responses name a security's type (EQ, MF, ...) and, for ETFs, its
sub-type, but never its sector. Portfolio analytics therefore takes sectors from this table:
GICS sector names for about 220 widely held US-listed stocks, and an asset-class label for common
ETFs and index mutual funds (funds span sectors; there is no look-through into their holdings).
Anything else is "Unknown", and every analysis says which share of the portfolio that is.

It is hand-maintained reference data (classifications as of 2025, after the March 2023 GICS
changes that moved V, MA and PYPL to Financials and TGT, DG, DLTR to Consumer Staples), not
market data and not E*TRADE's: results must say so (:data:`SOURCE`). The symbols the emulator
quotes carry the same labels as its own ``emulator.universe`` table (a test keeps them equal).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

UNKNOWN = "Unknown"
SOURCE = (
    "etrade-mcp's bundled sector table (GICS sectors for ~220 common US stocks, asset-class labels for "
    "common ETFs and index funds; classifications as of 2025). E*TRADE does not report sectors; "
    "symbols outside the table are 'Unknown'."
)

_BY_SECTOR: dict[str, str] = {
    "Information Technology": (
        "AAPL MSFT NVDA AVGO ORCL CRM ADBE AMD INTC CSCO IBM QCOM TXN AMAT MU LRCX KLAC ADI NOW INTU "
        "PANW ANET SNPS CDNS CRWD FTNT ACN PLTR DELL HPQ HPE MRVL TSM ASML SHOP WDAY ADSK MSI APH"
    ),
    "Communication Services": "GOOGL GOOG META NFLX DIS T VZ CMCSA TMUS CHTR EA TTWO WBD SPOT SNAP PINS RBLX",
    "Consumer Discretionary": (
        "AMZN TSLA HD MCD NKE SBUX BKNG LOW TJX CMG ABNB MAR HLT GM F ORLY AZO ROST LULU YUM EBAY RIVN"
    ),
    "Consumer Staples": "PG KO PEP WMT COST PM MO MDLZ CL KMB TGT KR GIS KHC STZ MNST KDP DG DLTR",
    "Health Care": (
        "UNH JNJ LLY PFE MRK ABBV ABT TMO DHR AMGN GILD BMY CVS ISRG MDT SYK VRTX REGN ELV CI HCA ZTS BSX MRNA NVO"
    ),
    "Financials": (
        "JPM BAC WFC GS MS V MA BRK.B BRK.A AXP C SCHW BLK PYPL COF USB PNC SPGI CME ICE MMC CB PGR AIG MET "
        "BX KKR COIN SOFI HOOD"
    ),
    "Industrials": "CAT BA GE HON UPS RTX DE UNP LMT NOC GD MMM FDX CSX NSC WM EMR ETN ITW UBER DAL UAL LUV PH GEV",
    "Energy": "XOM CVX COP SLB EOG OXY PSX MPC VLO KMI WMB HAL DVN",
    "Utilities": "NEE DUK SO D AEP EXC SRE XEL PCG",
    "Real Estate": "PLD AMT O EQIX CCI SPG PSA WELL DLR AVB",
    "Materials": "LIN SHW FCX APD ECL NEM DOW DD NUE VMC MLM",
    # Funds, by asset class (no look-through into their holdings).
    "ETF - US Large Cap": "SPY VOO IVV DIA",
    "ETF - US Large Cap Growth": "QQQ VUG",
    "ETF - US Large Cap Value": "VTV",
    "ETF - US Total Market": "VTI ITOT",
    "ETF - US Mid Cap": "IJH VO",
    "ETF - US Small Cap": "IWM IJR VB",
    "ETF - US Dividend": "SCHD VIG VYM",
    "ETF - US Bonds": "BND AGG LQD HYG",
    "ETF - US Treasuries": "TLT IEF SHY SGOV BIL",
    "ETF - International": "VEA VXUS EFA",
    "ETF - Emerging Markets": "VWO EEM IEMG",
    "ETF - Commodities": "GLD SLV IAU",
    "ETF - Real Estate": "VNQ",
    "ETF - Sector": "XLK XLF XLE XLV XLY XLP XLI XLU XLB XLRE XLC SMH",
    "Mutual Fund - US Large Cap": "VFIAX FXAIX SWPPX",
    "Mutual Fund - US Total Market": "VTSAX FSKAX",
    "Mutual Fund - International": "VTIAX",
    "Mutual Fund - US Bonds": "VBTLX",
}


def _build() -> Mapping[str, str]:
    table: dict[str, str] = {}
    for sector, symbols in _BY_SECTOR.items():
        for symbol in symbols.split():
            if symbol in table:
                raise ValueError(f"{symbol} is listed under {table[symbol]} and {sector}")
            table[symbol] = sector
    return MappingProxyType(table)


#: Upper-case symbol → sector or asset-class label.
SECTORS: Mapping[str, str] = _build()


def sector_of(symbol: str) -> str | None:
    """The bundled sector of ``symbol`` (case-insensitive), or None when the table lacks it."""
    return SECTORS.get(symbol.strip().upper())
