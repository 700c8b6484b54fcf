"""Real symbol and venue spellings, as public references print them, that silver must accept.

Sources: ISO 10383 market identifier codes (MIC); the venue names of US consolidated-tape
vendors (Nasdaq's and Cboe's own names for their exchanges, FINRA's trade reporting
facilities); CQS / Nasdaq share-class suffix conventions; Yahoo Finance tickers for futures,
FX and Tokyo listings; Binance's lower-case stream symbols; Bloomberg-style tickers.
"""

SYMBOLS = {
    "AAPL": "AAPL",
    "BRK.B": "BRK.B",          # CQS share class
    "BRK/B": "BRK/B",          # the same class, as some vendors print it
    "BRK B": "BRK B",          # and as Bloomberg prints it
    "BF-B": "BF-B",
    "btcusdt": "BTCUSDT",      # Binance stream names are lower case
    "BTC-USD": "BTC-USD",
    "ES=F": "ES=F",            # Yahoo: continuous futures
    "EURUSD=X": "EURUSD=X",    # Yahoo: FX
    "^GSPC": "^GSPC",          # Yahoo: an index
    "6758.T": "6758.T",        # Tokyo listing
    "VOD.L": "VOD.L",
    "0700.HK": "0700.HK",
    "ESZ6": "ESZ6",
    "SPY 261218C00600000": "SPY 261218C00600000",  # OCC option symbol
    "  msft ": "MSFT",         # trimmed
    "TSLA": "TSLA",
}

EXCHANGES = {
    "XNAS": "XNAS",            # ISO 10383 MICs
    "XNYS": "XNYS",
    "ARCX": "ARCX",
    "XTKS": "XTKS",
    "NASDAQ BX": "NASDAQ BX",
    "NASDAQ PSX": "NASDAQ PSX",
    "NYSE ARCA": "NYSE ARCA",
    "NYSE American": "NYSE AMERICAN",
    "FINRA ADF": "FINRA ADF",
    "BATS Y": "BATS Y",
    "Cboe EDGX": "CBOE EDGX",
    "MEMX": "MEMX",
    "IEX": "IEX",
    "binance": "BINANCE",
    "Coinbase Exchange": "COINBASE EXCHANGE",
    "CME Globex": "CME GLOBEX",
    "LSE (SETS)": "LSE (SETS)",
    "Tokyo Stock Exchange": "TOKYO STOCK EXCHANGE",
    " NYSE  National ": "NYSE NATIONAL",   # trimmed, runs of spaces made one
}
