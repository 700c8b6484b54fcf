"""The simulated universe: which symbols trade, how each behaves, and on which venues."""

from dataclasses import dataclass

import numpy as np

# Many venues, in the spellings real feeds use (MIC codes and names with spaces); a few big
# ones and a long tail, as in US equities.
EXCHANGES = ("XNAS", "XNYS", "ARCX", "BATS", "IEXG", "EDGA", "NYSE National", "Cboe BYX",
             "MIAX Pearl", "LTSE", "FINRA TRF")
# Share of a symbol's prints each venue gets before its listing venue's bonus.
_VENUE_BASE_SHARE = np.array([0.20, 0.15, 0.20, 0.30, 0.15, 0.05, 0.04, 0.04, 0.03, 0.01, 0.12])
_LISTING_VENUE_BONUS = 0.5


@dataclass(frozen=True)
class Listing:
    symbol: str
    open_price: float  # price of a fresh market
    annual_vol: float  # annualised volatility of the random walk
    activity: float  # share of all trades
    median_size: float  # typical shares per print (cheap names trade more shares)
    listing_venue: str


# Activity is concentrated: a few symbols carry most prints, many quiet ones trade rarely
# (a quiet symbol's trade-to-trade moves are then larger, see market.per_trade_sigma).
LISTINGS = (
    Listing("AAPL", 190.00, 0.22, 0.12, 100, "XNAS"),
    Listing("MSFT", 420.00, 0.20, 0.07, 100, "XNAS"),
    Listing("NVDA", 130.00, 0.50, 0.18, 200, "XNAS"),
    Listing("TSLA", 250.00, 0.60, 0.14, 100, "XNAS"),
    Listing("AMZN", 175.00, 0.30, 0.06, 100, "XNAS"),
    Listing("JPM", 200.00, 0.20, 0.03, 100, "XNYS"),
    Listing("XOM", 110.00, 0.25, 0.02, 100, "XNYS"),
    Listing("KO", 62.00, 0.15, 0.015, 200, "XNYS"),
    Listing("SPY", 480.00, 0.13, 0.26, 100, "ARCX"),
    Listing("PLTR", 25.00, 0.65, 0.05, 300, "XNAS"),
    Listing("AMC", 4.50, 1.10, 0.04, 1000, "XNYS"),
    Listing("F", 12.00, 0.35, 0.015, 500, "XNYS"),
)

SYMBOLS = tuple(listing.symbol for listing in LISTINGS)
OPEN_PRICES = np.array([listing.open_price for listing in LISTINGS])
ANNUAL_VOL = np.array([listing.annual_vol for listing in LISTINGS])
ACTIVITY = np.array([listing.activity for listing in LISTINGS])
MEDIAN_SIZE = np.array([listing.median_size for listing in LISTINGS])


def _venue_cdf() -> np.ndarray:
    """Cumulative venue shares per symbol (rows: symbols, columns: EXCHANGES)."""
    shares = np.tile(_VENUE_BASE_SHARE, (len(LISTINGS), 1))
    for row, listing in enumerate(LISTINGS):
        shares[row, EXCHANGES.index(listing.listing_venue)] += _LISTING_VENUE_BONUS
    shares /= shares.sum(axis=1, keepdims=True)
    return np.cumsum(shares, axis=1)


VENUE_CDF = _venue_cdf()


def draw_venues(symbol_idx: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Venue index of each print, drawn from its symbol's venue shares."""
    u = rng.random(len(symbol_idx))
    return np.minimum((u[:, None] > VENUE_CDF[symbol_idx]).sum(axis=1), len(EXCHANGES) - 1)
