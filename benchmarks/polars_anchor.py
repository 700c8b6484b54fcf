"""The anchor of bench_features: the same silver and gold with Polars on one machine, end to end
(JSON-lines read, silver's typing, rules and first-copy de-duplication, gold's features,
Parquet write), so that every benchmark run prints what Spark costs against it.

    .venv/bin/python benchmarks/polars_anchor.py FILE_OR_FOLDER... [--out DIR]

Gold follows ``features/symbol_history.py`` feature by feature (the previous N trades, the other
venues over the previous C seconds, in event-time order, ties by trade_id,
neutral values where history is short), from ``conf/base/parameters_features.yml``. Silver
keeps only what bench data needs (valid rows, the first copy of a trade_id), not
quarantine's bookkeeping. Time-window sums are prefix-sum differences (numpy
``searchsorted``), Polars' own rolling sums cover the trade windows.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import yaml

REPO = Path(__file__).resolve().parents[1]
_MICROS = 1_000_000
_BPS = 10_000.0
_FLAT = 1e-6
RUN_TRADES = 5  # gold.RUN_TRADES
BURST_TRADES = 3  # symbol_history.BURST_TRADES
_SCHEMA = {"trade_id": pl.String, "symbol": pl.String, "price": pl.Float64,
           "volume": pl.Float64, "timestamp": pl.String, "exchange": pl.String}


def run(files: list[Path], out: Path, gold: Mapping[str, Any]) -> dict[str, float]:
    """Silver and gold of ``files`` written as Parquet under ``out``: wall seconds per step,
    and ``cpu``, the process's CPU seconds (all threads) for the whole."""
    seconds, start, cpu = {}, time.perf_counter(), time.process_time()
    raw = pl.concat([pl.read_ndjson(f, schema=_SCHEMA) for f in files])
    silver = silver_rows(raw)
    silver.write_parquet(out / "silver.parquet")
    seconds["silver"] = time.perf_counter() - start
    gold_start = time.perf_counter()
    features = gold_rows(silver, gold)
    features.write_parquet(out / "gold.parquet")
    seconds["gold"] = time.perf_counter() - gold_start
    seconds["total"] = time.perf_counter() - start
    seconds["cpu"] = time.process_time() - cpu
    seconds["rows"] = features.height
    return seconds


def silver_rows(raw: pl.DataFrame) -> pl.DataFrame:
    event_time = pl.col("timestamp").str.strip_chars().str.to_datetime(
        "%Y-%m-%dT%H:%M:%S%.fZ", time_unit="us", time_zone="UTC", strict=False)
    valid = (
        pl.col("trade_id").str.strip_chars().ne("")
        & pl.col("symbol").str.strip_chars().ne("") & pl.col("exchange").str.strip_chars().ne("")
        & (pl.col("price") > 0) & pl.col("price").is_finite()
        & (pl.col("volume") > 0) & pl.col("volume").is_finite()
        & pl.col("event_time").is_not_null()
    )
    normalised = [pl.col(c).str.strip_chars().str.replace_all(" {2,}", " ").str.to_uppercase()
                  for c in ("symbol", "exchange")]
    return (raw.with_columns(event_time.alias("event_time"))
            .filter(valid.fill_null(False))
            .with_columns(normalised)
            .unique("trade_id", keep="first", maintain_order=True)
            .select("trade_id", "symbol", "exchange", "event_time", "price", "volume"))


def gold_rows(silver: pl.DataFrame, gold: Mapping[str, Any]) -> pl.DataFrame:
    windows = sorted({int(n) for n in gold["windows"]})
    cross, longest = int(gold["cross_exchange_seconds"]), max(int(n) for n in gold["windows"])
    df = (silver.with_columns(pl.col("event_time").dt.epoch("us").alias("_t"))
          .sort("symbol", "_t", "trade_id"))
    p, v, t = pl.col("price"), pl.col("volume"), pl.col("_t")
    df = df.with_columns(
        pl.int_range(1, pl.len() + 1).over("symbol").alias("_position"),
        t.shift(1).over("symbol").alias("_prev_t"),
        pl.coalesce(t.shift(longest + 1), t.first()).over("symbol").alias("_span_start_t"),
        (p.log() - p.log().shift(1)).fill_null(0.0).over("symbol").alias("_return"),
    )
    sums = {"price": p, "price_squares": p * p, "volume": v, "notional": p * v,
            "log_volume": v.log(), "log_volume_squares": v.log() * v.log(),
            "return_squares": pl.col("_return") ** 2}
    df = df.with_columns(
        (value.shift(1).rolling_sum(n, min_samples=1).over("symbol")).alias(f"_{name}_sum_{n}")
        for n in windows for name, value in sums.items())
    # A sliding float sum keeps a residue after its last non-zero return leaves the window;
    # gold's block sums are exactly 0 there (a flat stretch), which makes the z-scores neutral.
    moved = (pl.col("_return") != 0).cast(pl.Int64).shift(1)
    df = df.with_columns(
        pl.when(moved.rolling_sum(n, min_samples=1).over("symbol") > 0)
        .then(pl.col(f"_return_squares_sum_{n}")).otherwise(0.0)
        .alias(f"_return_squares_sum_{n}") for n in windows)
    df = _time_sums(df, cross)
    position = pl.col("_position")
    known = pl.min_horizontal(position - 2, pl.lit(longest))
    typical_gap = (pl.col("_prev_t") - pl.col("_span_start_t")) / known
    f: dict[str, tuple[pl.Expr, float]] = {
        "f_abs_return_bps": (pl.col("_return").abs() * _BPS, 0.0),
        "f_gap_ratio": ((t - pl.col("_prev_t")) / typical_gap, 1.0),
    }
    for n in windows:
        count = pl.min_horizontal(position - 1, pl.lit(n))
        total, squares = pl.col(f"_price_sum_{n}"), pl.col(f"_price_squares_sum_{n}")
        mean = total / count
        f[f"f_abs_price_z_{n}"] = (((p - mean) / _std(total, squares, count, True)).abs(), 0.0)
        f[f"f_abs_price_dev_bps_{n}"] = ((p / mean - 1).abs() * _BPS, 0.0)
        f[f"f_abs_return_z_{n}"] = ((pl.col("_return") / (pl.col(f"_return_squares_sum_{n}")
                                                           / count).sqrt()).abs(), 0.0)
        logs, log_squares = pl.col(f"_log_volume_sum_{n}"), pl.col(f"_log_volume_squares_sum_{n}")
        f[f"f_log_volume_rel_{n}"] = (v.log() - logs / count, 0.0)
        f[f"f_log_volume_z_{n}"] = ((v.log() - logs / count)
                                    / _std(logs, log_squares, count, False), 0.0)
        f[f"f_volume_ratio_{n}"] = (v * count / pl.col(f"_volume_sum_{n}"), 1.0)
        vwap = pl.col(f"_notional_sum_{n}") / pl.col(f"_volume_sum_{n}")
        f[f"f_abs_vwap_dev_bps_{n}"] = ((p / vwap - 1).abs() * _BPS, 0.0)
    run_rms = (pl.col(f"_return_squares_sum_{longest}") * RUN_TRADES
               / pl.min_horizontal(position - 1, pl.lit(longest))).sqrt()
    run = p.log() - p.log().shift(RUN_TRADES).over("symbol")
    f[f"f_abs_run_z_{RUN_TRADES}"] = ((run / run_rms).abs(), 0.0)
    longest_count = pl.min_horizontal(position - 1, pl.lit(longest))
    logs, log_squares = (pl.col(f"_log_volume_sum_{longest}"),
                         pl.col(f"_log_volume_squares_sum_{longest}"))
    burst_size = pl.sum_horizontal(v.log().shift(k).over("symbol")
                                   for k in range(BURST_TRADES)) / BURST_TRADES
    burst_size = pl.when(position >= BURST_TRADES).then(burst_size)  # all of them known
    f[f"f_burst_log_volume_z_{BURST_TRADES}"] = (
        (burst_size - logs / longest_count) / _std(logs, log_squares, longest_count, False), 0.0)
    f[f"f_burst_gap_ratio_{BURST_TRADES}"] = (
        (t - t.shift(BURST_TRADES - 1).over("symbol")) / ((BURST_TRADES - 1) * typical_gap), 1.0)
    first = windows[0]
    below = pl.sum_horizontal((v.shift(k).over("symbol") < v).fill_null(False)
                              for k in range(1, first + 1))
    equal = pl.sum_horizontal((v.shift(k).over("symbol") == v).fill_null(False)
                              for k in range(1, first + 1))
    f[f"f_size_rank_{first}"] = ((below + 0.5 * equal)
                                 / pl.min_horizontal(position - 1, pl.lit(first)), 0.5)
    # No other venue traded: neutral, as gold's exact sums give (a float residue would not).
    others_count = pl.col("_all_count") - pl.col("_venue_count")
    others = pl.when(others_count > 0).then(
        (pl.col("_all_log_price") - pl.col("_venue_log_price")) / others_count)
    f["f_abs_cross_exchange_dev_bps"] = ((p.log() - others).abs() * _BPS, 0.0)
    finite = [pl.when(value.is_finite()).then(value).otherwise(pl.lit(neutral))
              .fill_null(neutral).alias(name) for name, (value, neutral) in f.items()]
    return df.select("trade_id", "symbol", "exchange", "event_time", "price", "volume", *finite)


def _std(total: pl.Expr, squares: pl.Expr, count: pl.Expr, relative: bool) -> pl.Expr:
    std = ((squares - total * total / count) / (count - 1)).clip(lower_bound=0.0).sqrt()
    floor = (total / count).abs() * _FLAT if relative else pl.lit(_FLAT)
    return pl.when(std > floor).then(std).otherwise(0.0)


def _time_sums(df: pl.DataFrame, cross: int) -> pl.DataFrame:
    """Log-price sums and counts over the ``cross`` seconds before the trade, over all venues
    and over the trade's own: prefix sums and binary searches on (group, time) keys."""
    t = df["_t"].to_numpy()
    t = t - t.min()
    symbol = df["symbol"].rank("dense").to_numpy().astype(np.int64)
    key = (symbol << 52) + t  # rows are sorted by symbol, then time
    price = np.log(df["price"].to_numpy())
    all_count, all_sum = _between(key, key - cross * _MICROS, key - 1, [None, price])
    venue = (df["symbol"] + "\x00" + df["exchange"]).rank("dense").to_numpy().astype(np.int64)
    venue_key = (venue << 52) + t
    order = np.argsort(venue_key, kind="stable")
    sorted_key = venue_key[order]
    counts, sums = _between(sorted_key, sorted_key - cross * _MICROS, sorted_key - 1,
                            [None, price[order]])
    venue_count, venue_sum = np.empty_like(counts), np.empty_like(sums)
    venue_count[order], venue_sum[order] = counts, sums
    return df.with_columns(
        pl.Series("_all_count", all_count), pl.Series("_all_log_price", all_sum),
        pl.Series("_venue_count", venue_count), pl.Series("_venue_log_price", venue_sum))


def _between(keys: np.ndarray, low: np.ndarray, high: np.ndarray,
             values: list[np.ndarray | None]) -> list[np.ndarray]:
    """For each row, the count (None) or sum of ``values`` over the rows with a key in
    ``[low, high]`` (``keys`` sorted)."""
    start = np.searchsorted(keys, low, "left")
    end = np.searchsorted(keys, high, "right")
    result = []
    for value in values:
        if value is None:
            result.append((end - start).astype(np.float64))
        else:
            prefix = np.concatenate([[0.0], np.cumsum(value)])
            result.append(prefix[end] - prefix[start])
    return result


def landing_files(paths: list[Path]) -> list[Path]:
    """The JSON-lines files named, or found in the folders named (hidden files skipped)."""
    found = []
    for path in paths:
        found += [path] if path.is_file() else sorted(
            f for f in path.rglob("*") if f.is_file() and not f.name.startswith((".", "_")))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", type=Path, nargs="+")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    gold = yaml.safe_load((REPO / "conf/base/parameters_features.yml").read_text())[
        "features"]["gold"]
    with tempfile.TemporaryDirectory() as tmp:
        seconds = run(landing_files(args.paths), args.out or Path(tmp), gold)
    print(f"Polars {pl.__version__}: {seconds['rows']:,} trades, silver {seconds['silver']:.1f} s,"
          f" gold {seconds['gold']:.1f} s, end to end {seconds['total']:.1f} s")


if __name__ == "__main__":
    main()
