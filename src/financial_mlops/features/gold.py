"""Gold: per-trade features from each symbol's recent history, in event-time order.

Every feature of a trade depends only on that trade and on the trades of its symbol before it:
the previous ``max(windows) + 1`` trades and those of the last ``max(recent_seconds,
cross_exchange_seconds)`` seconds (``history_needed``). That is what lets an incremental run
recompute a symbol's newest rows from a short tail of silver and get the one-go result.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

GOLD_KEYS = ("trade_id", "symbol", "exchange", "event_time", "price", "volume")
# When the trade arrived (bronze's ingestion time), carried into gold when the trades have it
# (silver does): scoring reads gold past an arrival watermark (docs/inference.md).
ARRIVAL = "_ingested_at"
_MICROS = 1_000_000
_BPS = 10_000.0  # returns and deviations in basis points
_FLAT = 1e-6  # a std under this fraction of the mean is rounding noise
_UNITS = 1e9  # running sums of logs add whole 1e-9ths, as longs (``_sum_between``)
_BUCKETS_PER_RANGE = 32  # time buckets per range when placing cuts (``time_ranges``)
RUN_TRADES = 5  # trades of a momentum run (f_run_z_5); within history_needed's window


def history_needed(gold: Mapping[str, Any]) -> tuple[int, int]:
    """(trades, seconds) of a symbol's history before a trade that its features read."""
    windows = [int(n) for n in gold["windows"]]
    seconds = max(int(gold["recent_seconds"]), int(gold["cross_exchange_seconds"]))
    return max(windows) + 1, seconds  # + 1: the typical gap spans the previous N gaps


def trade_features(trades: DataFrame, gold: Mapping[str, Any],
                   ranges: DataFrame | None = None, *, arrival: bool = False) -> DataFrame:
    """One row per trade: ``GOLD_KEYS`` (and ``ARRIVAL`` with ``arrival``: silver has it, an
    in-memory frame of the tournament does not) plus the ``f_*`` features, all finite doubles.
    Said by the caller, not read from ``trades.columns``: over Spark Connect that is an analysis,
    which a declarative pipeline's query function may not run.

    ``ranges`` (``time_ranges``) splits the busiest symbols into time ranges computed in
    parallel, each with the history before it that its windows read; the rows are the same.
    Without it each symbol is computed whole, and the function runs no Spark job (the
    declarative pipeline defines gold with it before silver exists).

    Every feature is **scale-free**: a ratio, a z-score, a rank or a return, measured against
    the symbol's own recent history, so multiplying a symbol's prices or volumes by a constant
    leaves them unchanged and a model moves between a $2 stock and a $5,000 one, and between
    10 trades a minute and 10,000. Levels (prices, sizes, counts in currency, shares or seconds)
    let trees memorise one market's symbols; the only levels gold keeps are ``price`` and
    ``volume`` themselves, which are not named ``f_*`` and so never reach a model.

    Rolling statistics describe the *previous* N trades, so a trade is measured against a
    history it is not part of (a spike does not dampen its own z-score). Where history is too
    short a feature takes its neutral value: 0, a rank of 0.5, a ratio of 1. Divisions use
    ``try_divide``: flat prices give a zero std under ANSI mode.
    """
    windows = sorted({int(n) for n in gold["windows"]})
    recent = int(gold["recent_seconds"])
    # Symbols, and the time ranges of the busiest, differ a lot in size. Ranges of them, cut
    # where Spark's sample of the input balances them, keep all cores busy; hashing can stack
    # two large ones in one task.
    keys = (*GOLD_KEYS, ARRIVAL) if arrival else GOLD_KEYS
    framed = _in_ranges(trades, keys, ranges).repartitionByRange(
        int(gold["partitions"]), "symbol", "_range")
    history = _history_aggregates(framed, keys, windows, recent,
                                  int(gold["cross_exchange_seconds"]))
    price, volume, t = F.col("price"), F.col("volume"), F.col("_t")
    longest = windows[-1]
    # The symbol's typical gap between trades: the span of its previous `longest` trades.
    known = F.least(F.col("_position") - 2, F.lit(longest))  # gaps in that span so far
    typical_gap = F.try_divide(F.col("_prev_t") - F.col("_span_start_t"), known)
    gap = t - F.col("_prev_t")

    features: dict[str, tuple[Column, Column | float]] = {
        "f_return_bps": (F.col("_return") * _BPS, 0.0),
        "f_gap_ratio": (F.try_divide(gap, typical_gap), 1.0),
    }
    for n in windows:
        count = F.least(F.col("_position") - 1, F.lit(n))  # trades in the window so far
        price_mean = F.try_divide(F.col(f"_price_sum_{n}"), count)
        price_std = _std_from_sums(F.col(f"_price_sum_{n}"), F.col(f"_price_squares_sum_{n}"),
                                   count)
        features[f"f_price_z_{n}"] = (F.try_divide(price - price_mean, price_std), 0.0)
        features[f"f_price_dev_bps_{n}"] = ((F.try_divide(price, price_mean) - 1) * _BPS, 0.0)
        # A return in units of the symbol's own recent trade-to-trade moves (their RMS).
        return_rms = F.sqrt(F.try_divide(F.col(f"_return_squares_sum_{n}"), count))
        features[f"f_return_z_{n}"] = (F.try_divide(F.col("_return"), return_rms), 0.0)
        log_mean = F.try_divide(F.col(f"_log_volume_sum_{n}"), count)
        log_std = _std_from_sums(F.col(f"_log_volume_sum_{n}"),
                                 F.col(f"_log_volume_squares_sum_{n}"), count, flat=None)
        # The print's size relative to the symbol's typical size (geometric mean), in logs.
        features[f"f_log_volume_rel_{n}"] = (F.ln(volume) - log_mean, 0.0)
        features[f"f_log_volume_z_{n}"] = (F.try_divide(F.ln(volume) - log_mean, log_std), 0.0)
        features[f"f_volume_ratio_{n}"] = (
            F.try_divide(volume * count, F.col(f"_volume_sum_{n}")), 1.0)
        vwap = F.try_divide(F.col(f"_notional_sum_{n}"), F.col(f"_volume_sum_{n}"))
        features[f"f_vwap_dev_bps_{n}"] = ((F.try_divide(price, vwap) - 1) * _BPS, 0.0)
    # A short run of trades all moving the same way: the log move over the last RUN_TRADES
    # returns in units of the symbol's volatility over that many trades (momentum bursts).
    # Taken before only each range's own rows are kept (the lag reads the range's history).
    in_order = Window.partitionBy("symbol", "_range").orderBy("_t", "trade_id")
    history = history.withColumn("_run_start_price", F.lag(price, RUN_TRADES).over(in_order))
    run = F.ln(price) - F.ln(F.col("_run_start_price"))
    run_rms = F.sqrt(F.try_divide(F.col(f"_return_squares_sum_{longest}") * RUN_TRADES,
                                  F.least(F.col("_position") - 1, F.lit(longest))))
    features[f"f_run_z_{RUN_TRADES}"] = (F.try_divide(run, run_rms), 0.0)
    features[f"f_size_rank_{windows[0]}"] = (_size_rank(F.col("_sizes")), 0.5)
    # Activity of the last S seconds against the symbol's typical rate: trades, and volume
    # against typical size x typical rate, sizes by their geometric means (mean logs): sizes
    # span 1e-8 coins to 1e11 tokens, which no exact sum of the sizes themselves can hold.
    expected_trades = F.try_divide(F.lit(recent * _MICROS), typical_gap)
    trades_ratio = F.try_divide(F.col("_recent_count"), expected_trades)
    features[f"f_trades_last_{recent}s_ratio"] = (trades_ratio, 1.0)
    recent_log_size = F.try_divide(F.col("_recent_log_volume"), F.col("_recent_count"))
    typical_log_size = F.try_divide(F.col(f"_log_volume_sum_{longest}"),
                                    F.least(F.col("_position") - 1, F.lit(longest)))
    features[f"f_volume_last_{recent}s_ratio"] = (
        trades_ratio * F.exp(recent_log_size - typical_log_size), 1.0)
    # Against the other venues' geometric mean price (their mean log price).
    others_log_mean = F.try_divide(F.col("_all_log_price") - F.col("_venue_log_price"),
                                   F.col("_all_count") - F.col("_venue_count"))
    features["f_cross_exchange_dev_bps"] = ((F.ln(price) - others_log_mean) * _BPS, 0.0)

    # Values first, then their finite form, so that no expression is evaluated twice.
    values = history.filter(F.col("_own")).select(
        *keys, *(value.alias(name) for name, (value, _) in features.items()))
    return values.select(
        *keys,
        *(_finite(F.col(name), neutral).alias(name) for name, (_, neutral) in features.items()),
    )


def parallel_trade_features(trades: DataFrame, gold: Mapping[str, Any], *,
                            arrival: bool = False) -> DataFrame:
    """``trade_features`` with the busiest symbols split by ``time_ranges`` (whose two small
    aggregations run now): what the Kedro nodes write to gold."""
    return trade_features(trades, gold, time_ranges(trades, gold), arrival=arrival)


def _history_aggregates(trades: DataFrame, keys: tuple[str, ...], windows: list[int],
                        recent: int, cross: int) -> DataFrame:
    """Every window aggregate the features use, each computed once, as ``_*`` columns.

    The sums over the previous N trades add up blocks of ``gcd(windows)`` trades, reached with
    ``lag``: Spark recomputes a sliding frame at every row, so a 100-trade sum slides five
    20-trade blocks instead of 100 values. Sums are also several times cheaper to slide than
    ``stddev_samp``; the standard deviations come from sums of squares. Sums over the last
    seconds are differences of running sums (``_sum_between``), for the same reason.
    """
    # `_t` (event time in microseconds) first in both orders: one sort serves both.
    in_order = Window.partitionBy("symbol", "_range").orderBy("_t", "trade_id")
    by_time = Window.partitionBy("symbol", "_range").orderBy("_t")
    by_venue_time = Window.partitionBy("symbol", "_range", "exchange").orderBy("_t")
    price, volume = F.col("price"), F.col("volume")
    block = math.gcd(*windows)
    in_block = in_order.rowsBetween(-block, -1)
    log_price, log_volume = F.ln(price), F.ln(volume)
    sums = {"price": price, "price_squares": price * price, "volume": volume,
            "notional": price * volume, "log_volume": log_volume,
            "log_volume_squares": log_volume * log_volume,
            "return_squares": F.col("_return") * F.col("_return")}
    last_seconds = (-recent * _MICROS, 0)
    # Cross-venue: all venues' sum and count minus the trade's own venue's, over the span
    # before the trade, so no venue list is needed.
    span = (-cross * _MICROS, -1)
    first_pass = [
        F.row_number().over(in_order).alias("_position"),
        F.lag("_t").over(in_order).alias("_prev_t"),
        # Where fewer trades came before, the span starts at the symbol's first trade.
        F.coalesce(F.lag("_t", windows[-1] + 1).over(in_order),
                   F.first("_t").over(in_order)).alias("_span_start_t"),
        F.collect_list(volume).over(in_order.rowsBetween(-windows[0], -1)).alias("_sizes"),
        *(F.sum(value).over(in_block).alias(f"_block_{name}") for name, value in sums.items()),
        _sum_between(None, by_time, *last_seconds).alias("_recent_count"),
        _sum_between(log_volume, by_time, *last_seconds).alias("_recent_log_volume"),
        _sum_between(log_price, by_time, *span).alias("_all_log_price"),
        _sum_between(None, by_time, *span).alias("_all_count"),
        _sum_between(log_price, by_venue_time, *span).alias("_venue_log_price"),
        _sum_between(None, by_venue_time, *span).alias("_venue_count"),
    ]
    window_sums = [
        sum((F.coalesce(F.lag(f"_block_{name}", k * block).over(in_order), F.lit(0.0))
             for k in range(1, n // block)), F.col(f"_block_{name}")).alias(f"_{name}_sum_{n}")
        for n in windows for name in sums
    ]
    # The log return from the previous trade (0 for the first): same window order, so the
    # extra pass needs no second sort.
    returned = trades.select(
        *keys, "_t", "_range", "_own",
        F.coalesce(F.ln(price) - F.ln(F.lag(price).over(in_order)), F.lit(0.0)).alias("_return"))
    aggregated = returned.select(*keys, "_t", "_range", "_own", "_return", *first_pass)
    return aggregated.select("*", *window_sums)


def _sum_between(value: Column | None, order: Window, start: int, end: int) -> Column:
    """Sum of ``value`` (count of rows when None) over the rows whose order value lies in
    ``[current + start, current + end]``, as the difference of two running sums.

    Spark re-adds a sliding range frame at every row, which for a busy symbol is thousands of
    trades per row; a running sum adds each row once. The values (logs, so their range is
    small whatever the market's units) are summed as whole numbers of ``1 / _UNITS`` in a long:
    the difference is exact and does not depend on where the rows start (a time range of
    ``time_ranges``, the history tail of an incremental run), so the same trade gets the same
    sum; and longs add several times faster than decimals. A long holds the running sum of
    some 400 million trades' logs (|log| <= 25), more than one window partition of Spark can.
    """
    units = F.lit(1).cast("long") if value is None else F.round(value * _UNITS).cast("long")

    def running(upto: int) -> Column:
        total = F.sum(units).over(order.rangeBetween(Window.unboundedPreceding, upto))
        return F.coalesce(total, F.lit(0).cast("long"))

    between = running(end) - running(start - 1)
    return between if value is None else between / _UNITS


def time_ranges(trades: DataFrame, gold: Mapping[str, Any]) -> DataFrame | None:
    """Time ranges of about ``gold.range_trades`` trades for each symbol with more, to give
    ``trade_features``; None when no symbol has that many. Two small aggregations (each
    symbol's count and time span, then exact counts in short time buckets) place every cut
    and the history each range reads: from the start of the latest bucket that leaves
    ``history_needed`` trades before the cut, and at least its seconds."""
    size = int(gold["range_trades"])
    depth, seconds = history_needed(gold)
    t = F.unix_micros("event_time")
    large = (trades.groupBy("symbol")
             .agg(F.count(F.lit(1)).alias("n"), F.min(t).alias("lo"), F.max(t).alias("hi"))
             .filter(F.col("n") > 2 * size).collect())
    if not large:
        return None
    # About 32 buckets per range: the history a range reads costs at most a bucket more
    # than it needs.
    widths = {row["symbol"]: (row["lo"], max(1, -(-(row["hi"] - row["lo"] + 1) * size
                                                 // (row["n"] * _BUCKETS_PER_RANGE))))
              for row in large}
    bucket = None
    for symbol, (lo, width) in widths.items():
        index = F.floor((t - F.lit(lo)) / F.lit(width))
        bucket = (F.when(F.col("symbol") == symbol, index) if bucket is None
                  else bucket.when(F.col("symbol") == symbol, index))
    counts: dict[str, dict[int, int]] = {symbol: {} for symbol in widths}
    for row in (trades.filter(F.col("symbol").isin(sorted(widths)))
                .groupBy("symbol", bucket.cast("long").alias("bucket")).count().collect()):
        counts[row["symbol"]][row["bucket"]] = row["count"]
    rows = []
    for symbol, (lo, width) in widths.items():
        cuts = _cuts(counts[symbol], size, depth)
        starts = [None, *(lo + b * width for b, _ in cuts)]
        # Where fewer than `depth` trades precede a cut, its range reads all of them.
        reads = [None, *(None if h is None else min(lo + b * width - seconds * _MICROS,
                                                    lo + h * width) for b, h in cuts)]
        for k, (start, read_from) in enumerate(zip(starts, reads, strict=True)):
            rows.append((symbol, k, start, read_from, (starts + [None])[k + 1]))
    return trades.sparkSession.createDataFrame(
        rows, "_range_symbol string, _range int, _from long, _read_from long, _until long")


def _cuts(counts: dict[int, int], size: int, depth: int) -> list[tuple[int, int | None]]:
    """(first bucket of a range, first bucket of the history it reads, None for all) for every
    range but the first: a cut once ``size`` trades are behind and at least half as many ahead.
    """
    buckets = sorted(counts)
    total, behind, cuts = sum(counts.values()), 0, []
    for k, b in enumerate(buckets):
        if behind >= size * (len(cuts) + 1) and total - behind >= size // 2:
            before, history = 0, None
            for earlier in reversed(buckets[:k]):
                before += counts[earlier]
                if before >= depth:
                    history = earlier
                    break
            cuts.append((b, history))
        behind += counts[b]
    return cuts


def _in_ranges(trades: DataFrame, keys: tuple[str, ...], ranges: DataFrame | None) -> DataFrame:
    """``keys`` plus ``_t`` (event time in microseconds), ``_range`` and ``_own``: each
    trade once in its own range (``_own``), and again, not owned, in each later range of its
    symbol whose history it is."""
    t = F.unix_micros("event_time")
    if ranges is None:
        return trades.select(*keys, t.alias("_t"), F.lit(0).alias("_range"),
                             F.lit(True).alias("_own"))
    timed = trades.select(*keys, t.alias("_t"))
    after = F.col("_read_from").isNull() | (F.col("_t") >= F.col("_read_from"))
    before = F.col("_until").isNull() | (F.col("_t") < F.col("_until"))
    joined = timed.join(F.broadcast(ranges),
                        (F.col("symbol") == F.col("_range_symbol")) & after & before, "left")
    return joined.select(
        *keys, "_t", F.coalesce("_range", F.lit(0)).alias("_range"),
        (F.col("_from").isNull() | (F.col("_t") >= F.col("_from"))).alias("_own"))


def _std_from_sums(total: Column, squares: Column, count: Column,
                   flat: float | None = _FLAT) -> Column:
    """Sample standard deviation from a window's sum and sum of squares. Where all values are
    equal, rounding leaves a residue near 1e-8 of the mean (prices vary little around a large
    mean); under ``flat`` times the mean the window counts as flat, std 0. Logs (``flat=None``)
    sit near 0, so their residue is judged in absolute terms, under 1e-6."""
    variance = F.try_divide(squares - F.try_divide(total * total, count), count - 1)
    std = F.sqrt(F.greatest(variance, F.lit(0.0)))
    floor = F.lit(_FLAT) if flat is None else F.abs(F.try_divide(total, count)) * flat
    return F.when(std > floor, std).otherwise(F.lit(0.0))


def _size_rank(sizes: Column) -> Column:
    """Mid-rank of the trade's volume among the previous trades' volumes, in [0, 1].

    Built from array functions Spark compiles (a sort, a search, a removal): a lambda over the
    array is interpreted row by row, and cost twice the time of the rest of the rank.
    """
    volume = F.col("volume")
    below = F.array_position(F.sort_array(F.array_append(sizes, volume)), volume) - 1
    equal = F.size(sizes) - F.size(F.array_remove(sizes, volume))
    return F.try_divide(below + equal * 0.5, F.size(sizes))


def _finite(value: Column, neutral: Column | float) -> Column:
    """The value as a double, or the neutral one when it is null, NaN or infinite."""
    value = value.cast("double")
    fallback = neutral if isinstance(neutral, Column) else F.lit(neutral)
    return F.when(F.abs(value) < F.lit(float("inf")), value).otherwise(fallback.cast("double"))


def in_time_order(rows: DataFrame) -> DataFrame:
    """Rows in event-time order within each partition, so that each file written (at most
    ``maxRecordsPerFile`` rows) covers a stretch of time and a MERGE of recent rows
    (``matches_since``) skips the older files. A local sort, within the tasks that computed
    the features: no second shuffle."""
    return rows.sortWithinPartitions("event_time")
