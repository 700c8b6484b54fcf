"""A real-shaped benchmark market: a few symbols carry most trades (issue 17).

Four symbols over one trading day (an index ETF with ~45 % of all trades, a mega-cap, a crypto
pair, a smaller stock), each with heavy-tailed returns (Student-t, 3 degrees of freedom) whose
volatility clusters, heavy-tailed sizes with odd lots, and uneven gaps: bursts of trades within
the same millisecond next to quiet stretches (a self-exciting rate). The simulator's own
universe is many similar symbols and cannot say this, so the generator lives here; the files
are written once per (trades, seed) under ``benchmarks/results/cache/`` (gitignored) and reused.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

CACHE = Path(__file__).resolve().parent / "results" / "cache"
CHUNK = 100_000  # trades per JSON-lines file
# symbol, share of all trades, price level, tick, typical size, venues
SYMBOLS = (
    ("SPY", 0.45, 480.0, 0.01, 100, ("ARCX", "XNAS", "BATS", "EDGX", "IEX", "FINRA ADF")),
    ("NVDA", 0.27, 880.0, 0.01, 40, ("XNAS", "ARCX", "BATS", "FINRA ADF")),
    ("BTCUSDT", 0.18, 61000.0, 0.1, 0.02, ("BINANCE", "COINBASE", "KRAKEN")),
    ("SIRI", 0.10, 3.2, 0.0001, 300, ("XNAS", "FINRA ADF")),
)
_SESSION_SECONDS = 23_400  # 6.5 hours
_T_DOF = 3


def landing_files(trades: int, seed: int = 17) -> list[Path]:
    """The market's JSON-lines files (trade_id, symbol, price, volume, timestamp, exchange),
    in time order, generated on first use."""
    folder = CACHE / f"concentrated-{trades}-seed{seed}"
    done = folder / "_complete"
    if not done.exists():
        folder.mkdir(parents=True, exist_ok=True)
        frame = market(trades, seed)
        for k, start in enumerate(range(0, trades, CHUNK)):
            part = frame.iloc[start:start + CHUNK]
            (folder / f"part-{k:04d}.jsonl").write_text(
                part.to_json(orient="records", lines=True))
        done.touch()
    return sorted(folder.glob("part-*.jsonl"))


def market(trades: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    counts = np.floor(np.array([s[1] for s in SYMBOLS]) * trades).astype(int)
    counts[0] += trades - counts.sum()
    frames = [_symbol(rng, n, *spec) for n, spec in zip(counts, SYMBOLS, strict=True)]
    frame = pd.concat(frames).sort_values("_ms", kind="stable").reset_index(drop=True)
    start = pd.Timestamp("2026-03-02T14:30:00Z")
    frame["timestamp"] = (start + pd.to_timedelta(frame.pop("_ms"), unit="ms")).dt.strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ").str.slice(0, 23) + "Z"
    frame.insert(0, "trade_id", [f"CON-{i:09d}" for i in range(len(frame))])
    return frame[["trade_id", "symbol", "price", "volume", "timestamp", "exchange"]]


def _symbol(rng, n: int, symbol: str, _share: float, level: float, tick: float, size: float,
            venues: tuple[str, ...]) -> pd.DataFrame:
    # Uneven gaps: exponential gaps under a rate that clusters (a log-normal regime per
    # stretch of trades), cut to milliseconds, so bursts share a millisecond.
    regime = np.repeat(rng.lognormal(0.0, 1.2, n // 500 + 1), 500)[:n]
    gaps = rng.exponential(1.0, n) / regime
    ms = np.floor(np.cumsum(gaps) / gaps.sum() * _SESSION_SECONDS * 1000).astype(np.int64)
    # Heavy-tailed returns with clustered volatility (a slowly varying scale).
    scale = 3e-4 * np.exp(np.convolve(rng.normal(0, 0.3, n), np.ones(200) / 14, "same"))
    shocks = rng.standard_t(_T_DOF, n) / np.sqrt(_T_DOF / (_T_DOF - 2))
    price = np.maximum(np.round(level * np.exp(np.cumsum(scale * shocks)) / tick) * tick, tick)
    sizes = rng.lognormal(0.0, 1.3, n) * size  # whole shares, fractional coins
    volume = np.maximum(np.round(sizes, 4 if size < 1 else 0), 0.0001 if size < 1 else 1)
    weights = rng.dirichlet(np.ones(len(venues)))
    return pd.DataFrame({
        "_ms": ms, "symbol": symbol, "price": np.round(price, 6), "volume": volume,
        "exchange": rng.choice(np.array(venues), n, p=weights),
    })
