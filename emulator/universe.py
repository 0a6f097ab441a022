"""The emulator's symbol universe: real US tickers with emulator-side reference data.

E*TRADE's quote and portfolio responses carry the company name, exchange and security type,
but **not** a sector. The ``sector`` column here is the emulator's own table (GICS-style names
for stocks, an asset-class label for funds); it never appears in E*TRADE-shaped JSON/XML. A
daemon that shows sectors must document that they come from a local table like this one, not
from E*TRADE.

Prices, volatilities, volumes, dividends and EPS are rough late-2025 orders of magnitude,
good enough for realistic-looking quotes; they are not market data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class Instrument:
    """One tradable symbol and the reference data the emulator derives quotes from."""

    symbol: str
    company_name: str
    #: E*TRADE's primaryExchange code: NSDQ, NYSE, ARCA (NYSE Arca), or MF for mutual funds.
    exchange: str
    #: E*TRADE securityType: EQ (stocks and ETFs) or MF (mutual funds).
    security_type: str
    #: E*TRADE securitySubType: "ETF" for exchange-traded funds, else None.
    security_sub_type: str | None
    #: Emulator-side only; never serialized into E*TRADE responses.
    sector: str
    base_price: float
    #: Annualized volatility of the random walk.
    volatility: float
    #: Average daily volume, shares.
    average_volume: int
    #: Annual dividend per share.
    annual_dividend: float
    eps: float
    beta: float
    #: Shares outstanding (0 for funds, where E*TRADE reports none).
    shares_outstanding: int

    @property
    def is_etf(self) -> bool:
        """Exchange-traded fund (securityType EQ, securitySubType ETF)."""
        return self.security_sub_type == "ETF"

    @property
    def is_mutual_fund(self) -> bool:
        """Mutual fund (securityType MF): priced once a day at the close."""
        return self.security_type == "MF"

    @property
    def lookup_type(self) -> str:
        """The ``type`` E*TRADE's product lookup reports for this symbol."""
        return "MUTUAL_FUND" if self.is_mutual_fund else "EQUITY"


_M = 1_000_000

# (symbol, company name, exchange, sector, price, volatility, avg volume, dividend, eps, beta, shares)
_STOCKS: tuple[tuple[str, str, str, str, float, float, float, float, float, float, float], ...] = (
    # Information Technology
    ("AAPL", "APPLE INC COM", "NSDQ", "Information Technology", 230.0, 0.25, 55, 1.04, 6.6, 1.2, 15000),
    ("MSFT", "MICROSOFT CORP COM", "NSDQ", "Information Technology", 480.0, 0.24, 20, 3.32, 13.6, 0.9, 7430),
    ("NVDA", "NVIDIA CORP COM", "NSDQ", "Information Technology", 180.0, 0.50, 180, 0.04, 3.5, 1.7, 24400),
    ("AVGO", "BROADCOM INC COM", "NSDQ", "Information Technology", 340.0, 0.40, 25, 2.36, 5.0, 1.2, 4700),
    ("ORCL", "ORACLE CORP COM", "NYSE", "Information Technology", 240.0, 0.40, 12, 2.00, 4.5, 1.1, 2800),
    ("CRM", "SALESFORCE INC COM", "NYSE", "Information Technology", 250.0, 0.32, 7, 1.66, 6.4, 1.2, 960),
    ("ADBE", "ADOBE INC COM", "NSDQ", "Information Technology", 350.0, 0.32, 3.5, 0.0, 16.0, 1.2, 425),
    ("AMD", "ADVANCED MICRO DEVICES INC COM", "NSDQ", "Information Technology", 220.0, 0.50, 50, 0.0, 1.9, 1.8, 1620),
    ("INTC", "INTEL CORP COM", "NSDQ", "Information Technology", 38.0, 0.45, 90, 0.0, -4.4, 1.1, 4370),
    ("CSCO", "CISCO SYSTEMS INC COM", "NSDQ", "Information Technology", 70.0, 0.22, 20, 1.64, 2.5, 0.9, 3960),
    ("IBM", "INTERNATIONAL BUSINESS MACHS COM", "NYSE", "Information Technology", 300.0, 0.25, 4, 6.72, 6.9, 0.7, 930),
    ("QCOM", "QUALCOMM INC COM", "NSDQ", "Information Technology", 170.0, 0.32, 8, 3.56, 9.9, 1.2, 1090),
    # Communication Services
    ("GOOGL", "ALPHABET INC CAP STK CL A", "NSDQ", "Communication Services", 290.0, 0.30, 30, 0.84, 10.1, 1.0, 5800),
    ("GOOG", "ALPHABET INC CAP STK CL C", "NSDQ", "Communication Services", 291.0, 0.30, 22, 0.84, 10.1, 1.0, 5500),
    ("META", "META PLATFORMS INC CL A", "NSDQ", "Communication Services", 640.0, 0.35, 12, 2.10, 26.0, 1.2, 2520),
    ("NFLX", "NETFLIX INC COM", "NSDQ", "Communication Services", 110.0, 0.35, 30, 0.0, 2.5, 1.3, 4230),
    ("DIS", "DISNEY WALT CO COM", "NYSE", "Communication Services", 110.0, 0.25, 9, 1.00, 3.7, 1.0, 1800),
    ("T", "AT&T INC COM", "NYSE", "Communication Services", 26.0, 0.20, 35, 1.11, 1.5, 0.6, 7150),
    ("VZ", "VERIZON COMMUNICATIONS INC COM", "NYSE", "Communication Services", 41.0, 0.18, 18, 2.72, 4.1, 0.4, 4215),
    ("CMCSA", "COMCAST CORP NEW CL A", "NSDQ", "Communication Services", 28.0, 0.25, 25, 1.32, 5.4, 0.9, 3700),
    # Consumer Discretionary
    ("AMZN", "AMAZON COM INC COM", "NSDQ", "Consumer Discretionary", 225.0, 0.30, 45, 0.0, 6.6, 1.3, 10700),
    ("TSLA", "TESLA INC COM", "NSDQ", "Consumer Discretionary", 420.0, 0.60, 90, 0.0, 1.5, 2.0, 3320),
    ("HD", "HOME DEPOT INC COM", "NYSE", "Consumer Discretionary", 370.0, 0.22, 3.5, 9.20, 14.5, 1.0, 995),
    ("MCD", "MCDONALDS CORP COM", "NYSE", "Consumer Discretionary", 305.0, 0.16, 3.5, 7.44, 11.7, 0.6, 714),
    ("NKE", "NIKE INC CL B", "NYSE", "Consumer Discretionary", 65.0, 0.32, 13, 1.60, 1.7, 1.1, 1480),
    ("SBUX", "STARBUCKS CORP COM", "NSDQ", "Consumer Discretionary", 85.0, 0.28, 9, 2.48, 1.6, 1.0, 1137),
    ("BKNG", "BOOKING HOLDINGS INC COM", "NSDQ", "Consumer Discretionary", 5100.0, 0.28, 0.25, 38.4, 175.0, 1.2, 32),
    # Consumer Staples
    ("PG", "PROCTER AND GAMBLE CO COM", "NYSE", "Consumer Staples", 150.0, 0.15, 7, 4.23, 6.5, 0.4, 2340),
    ("KO", "COCA COLA CO COM", "NYSE", "Consumer Staples", 70.0, 0.14, 14, 2.04, 2.5, 0.5, 4300),
    ("PEP", "PEPSICO INC COM", "NSDQ", "Consumer Staples", 145.0, 0.17, 7, 5.69, 6.2, 0.5, 1370),
    ("WMT", "WALMART INC COM", "NSDQ", "Consumer Staples", 105.0, 0.20, 18, 0.94, 2.7, 0.6, 7970),
    ("COST", "COSTCO WHSL CORP NEW COM", "NSDQ", "Consumer Staples", 920.0, 0.20, 2, 5.20, 18.2, 0.9, 443),
    ("PM", "PHILIP MORRIS INTL INC COM", "NYSE", "Consumer Staples", 155.0, 0.20, 5, 5.88, 4.9, 0.5, 1555),
    # Health Care
    ("UNH", "UNITEDHEALTH GROUP INC COM", "NYSE", "Health Care", 330.0, 0.35, 10, 8.84, 16.0, 0.6, 905),
    ("JNJ", "JOHNSON & JOHNSON COM", "NYSE", "Health Care", 200.0, 0.15, 8, 5.20, 11.0, 0.4, 2410),
    ("LLY", "LILLY ELI & CO COM", "NYSE", "Health Care", 1000.0, 0.35, 4, 6.00, 18.0, 0.4, 947),
    ("PFE", "PFIZER INC COM", "NYSE", "Health Care", 25.0, 0.22, 40, 1.72, 1.4, 0.5, 5680),
    ("MRK", "MERCK & CO INC COM", "NYSE", "Health Care", 95.0, 0.22, 12, 3.24, 8.3, 0.4, 2500),
    ("ABBV", "ABBVIE INC COM", "NYSE", "Health Care", 225.0, 0.22, 6, 6.56, 2.4, 0.5, 1766),
    ("ABT", "ABBOTT LABS COM", "NYSE", "Health Care", 128.0, 0.18, 6, 2.36, 8.0, 0.7, 1740),
    # Financials
    ("JPM", "JPMORGAN CHASE & CO COM", "NYSE", "Financials", 310.0, 0.22, 9, 6.00, 20.0, 1.1, 2750),
    ("BAC", "BANK AMER CORP COM", "NYSE", "Financials", 52.0, 0.25, 35, 1.12, 3.6, 1.3, 7500),
    ("WFC", "WELLS FARGO CO NEW COM", "NYSE", "Financials", 85.0, 0.25, 16, 1.80, 6.3, 1.2, 3200),
    ("GS", "GOLDMAN SACHS GROUP INC COM", "NYSE", "Financials", 800.0, 0.28, 2, 16.0, 46.0, 1.3, 306),
    ("MS", "MORGAN STANLEY COM NEW", "NYSE", "Financials", 160.0, 0.27, 6, 4.00, 9.0, 1.3, 1600),
    ("V", "VISA INC COM CL A", "NYSE", "Financials", 340.0, 0.18, 6, 2.36, 10.7, 0.9, 1940),
    ("MA", "MASTERCARD INCORPORATED CL A", "NYSE", "Financials", 560.0, 0.19, 3, 3.04, 16.0, 1.0, 905),
    ("BRK.B", "BERKSHIRE HATHAWAY INC DEL CL B NEW", "NYSE", "Financials", 500.0, 0.15, 4, 0.0, 40.0, 0.8, 1300),
    ("AXP", "AMERICAN EXPRESS CO COM", "NYSE", "Financials", 360.0, 0.25, 3, 3.28, 15.0, 1.2, 696),
    # Industrials
    ("CAT", "CATERPILLAR INC COM", "NYSE", "Industrials", 560.0, 0.28, 3, 6.04, 19.0, 1.1, 468),
    ("BA", "BOEING CO COM", "NYSE", "Industrials", 200.0, 0.35, 9, 0.0, -15.0, 1.4, 756),
    ("GE", "GE AEROSPACE COM NEW", "NYSE", "Industrials", 300.0, 0.30, 6, 1.44, 6.5, 1.2, 1060),
    ("HON", "HONEYWELL INTL INC COM", "NSDQ", "Industrials", 200.0, 0.20, 4, 4.52, 9.5, 1.0, 635),
    ("UPS", "UNITED PARCEL SERVICE INC CL B", "NYSE", "Industrials", 95.0, 0.28, 6, 6.56, 6.7, 1.0, 848),
    ("RTX", "RTX CORPORATION COM", "NYSE", "Industrials", 175.0, 0.22, 5, 2.72, 4.8, 0.7, 1337),
    ("DE", "DEERE & CO COM", "NYSE", "Industrials", 480.0, 0.25, 1.5, 6.48, 20.0, 1.0, 271),
    # Energy
    ("XOM", "EXXON MOBIL CORP COM", "NYSE", "Energy", 115.0, 0.22, 15, 3.96, 7.5, 0.8, 4300),
    ("CVX", "CHEVRON CORP NEW COM", "NYSE", "Energy", 150.0, 0.22, 8, 6.84, 8.6, 0.9, 2000),
    ("COP", "CONOCOPHILLIPS COM", "NYSE", "Energy", 90.0, 0.28, 7, 3.12, 7.3, 1.0, 1250),
    # Utilities
    ("NEE", "NEXTERA ENERGY INC COM", "NYSE", "Utilities", 82.0, 0.22, 10, 2.27, 3.4, 0.6, 2060),
    ("DUK", "DUKE ENERGY CORP NEW COM NEW", "NYSE", "Utilities", 122.0, 0.16, 3.5, 4.18, 6.3, 0.4, 777),
    # Real Estate
    ("PLD", "PROLOGIS INC COM", "NYSE", "Real Estate", 125.0, 0.24, 4, 4.04, 3.6, 1.1, 928),
    ("AMT", "AMERICAN TOWER CORP NEW COM", "NYSE", "Real Estate", 180.0, 0.24, 3, 6.80, 4.6, 0.9, 468),
    ("O", "REALTY INCOME CORP COM", "NYSE", "Real Estate", 57.0, 0.18, 5, 3.23, 1.0, 0.8, 915),
    # Materials
    ("LIN", "LINDE PLC SHS", "NSDQ", "Materials", 420.0, 0.18, 2, 6.00, 14.0, 0.9, 470),
    ("SHW", "SHERWIN WILLIAMS CO COM", "NYSE", "Materials", 340.0, 0.24, 1.7, 3.16, 10.8, 1.1, 250),
    ("FCX", "FREEPORT-MCMORAN INC CL B", "NYSE", "Materials", 42.0, 0.40, 12, 0.60, 1.3, 1.6, 1437),
)

# (symbol, fund name, exchange, sector (asset class), price, volatility, avg volume, dividend)
_ETFS: tuple[tuple[str, str, str, str, float, float, float, float], ...] = (
    ("SPY", "SPDR S&P 500 ETF TR TR UNIT", "ARCA", "ETF - US Large Cap", 670.0, 0.15, 70, 7.00),
    ("VOO", "VANGUARD INDEX FDS S&P 500 ETF SHS", "ARCA", "ETF - US Large Cap", 615.0, 0.15, 7, 6.80),
    ("QQQ", "INVESCO QQQ TR UNIT SER 1", "NSDQ", "ETF - US Large Cap Growth", 600.0, 0.20, 45, 3.20),
    ("VTI", "VANGUARD INDEX FDS TOTAL STK MKT", "ARCA", "ETF - US Total Market", 330.0, 0.15, 4, 3.80),
    ("IWM", "ISHARES TR RUSSELL 2000 ETF", "ARCA", "ETF - US Small Cap", 245.0, 0.22, 30, 2.60),
    ("DIA", "SPDR DOW JONES INDL AVERAGE ETF", "ARCA", "ETF - US Large Cap", 470.0, 0.14, 3, 7.00),
    ("BND", "VANGUARD BD INDEX FDS TOTAL BND MRKT", "NSDQ", "ETF - US Bonds", 74.0, 0.05, 7, 2.70),
    ("AGG", "ISHARES TR CORE US AGGBD ET", "ARCA", "ETF - US Bonds", 100.0, 0.05, 8, 3.70),
    ("TLT", "ISHARES TR 20 YR TR BD ETF", "NSDQ", "ETF - US Treasuries", 90.0, 0.14, 35, 3.90),
    ("GLD", "SPDR GOLD TR GOLD SHS", "ARCA", "ETF - Commodities", 380.0, 0.15, 10, 0.0),
    ("SLV", "ISHARES SILVER TR ISHARES", "ARCA", "ETF - Commodities", 46.0, 0.30, 30, 0.0),
    ("VNQ", "VANGUARD INDEX FDS REAL ESTATE ETF", "ARCA", "ETF - Real Estate", 90.0, 0.20, 4, 3.50),
    ("XLK", "SELECT SECTOR SPDR TR TECHNOLOGY", "ARCA", "ETF - Sector", 290.0, 0.22, 8, 1.80),
    ("XLF", "SELECT SECTOR SPDR TR FINANCIAL", "ARCA", "ETF - Sector", 53.0, 0.18, 40, 0.75),
    ("XLE", "SELECT SECTOR SPDR TR ENERGY", "ARCA", "ETF - Sector", 90.0, 0.22, 15, 3.00),
    ("VEA", "VANGUARD TAX-MANAGED INTL FD FTSE DEV MKT ETF", "ARCA", "ETF - International", 60.0, 0.15, 10, 1.90),
    ("VWO", "VANGUARD INTL EQUITY INDEX FDS FTSE EMR MKT ETF", "ARCA", "ETF - Emerging Markets", 53.0, 0.18, 9, 1.60),
    ("SCHD", "SCHWAB STRATEGIC TR US DIVIDEND EQ", "ARCA", "ETF - US Dividend", 27.0, 0.13, 15, 1.00),
)

# (symbol, fund name, sector (asset class), NAV)
_MUTUAL_FUNDS: tuple[tuple[str, str, str, float], ...] = (
    ("VFIAX", "VANGUARD 500 INDEX FUND ADMIRAL SHARES", "Mutual Fund - US Large Cap", 620.0),
    ("FXAIX", "FIDELITY 500 INDEX FUND", "Mutual Fund - US Large Cap", 230.0),
)


def _build() -> dict[str, Instrument]:
    table: dict[str, Instrument] = {}
    for sym, name, exch, sector, price, vol, avg_vol, div, eps, beta, shares in _STOCKS:
        table[sym] = Instrument(
            sym, name, exch, "EQ", None, sector, price, vol, int(avg_vol * _M), div, eps, beta, int(shares * _M)
        )
    for sym, name, exch, sector, price, vol, avg_vol, div in _ETFS:
        table[sym] = Instrument(sym, name, exch, "EQ", "ETF", sector, price, vol, int(avg_vol * _M), div, 0.0, 1.0, 0)
    for sym, name, sector, nav in _MUTUAL_FUNDS:
        table[sym] = Instrument(sym, name, "MF", "MF", None, sector, nav, 0.15, 0, nav * 0.012, 0.0, 1.0, 0)
    return table


#: Every symbol the emulator quotes, keyed by upper-case symbol.
UNIVERSE: Mapping[str, Instrument] = MappingProxyType(_build())


def get(symbol: str) -> Instrument | None:
    """The instrument for ``symbol`` (case-insensitive), or None if the emulator doesn't know it."""
    return UNIVERSE.get(symbol.upper())


def sector_of(symbol: str) -> str | None:
    """The emulator-side sector for ``symbol``; E*TRADE itself does not report sectors."""
    instrument = get(symbol)
    return instrument.sector if instrument is not None else None


def tradable_symbols() -> list[str]:
    """Symbols the seeded book may hold (stocks and ETFs; no mutual funds), in table order."""
    return [sym for sym, inst in UNIVERSE.items() if not inst.is_mutual_fund]
