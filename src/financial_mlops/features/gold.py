"""Gold: per-trade features from each symbol's recent history, in event-time order.

Every feature of a trade depends only on that trade and on the trades of its symbol before it:
the previous ``max(windows) + 1`` trades and those of the last ``cross_exchange_seconds``
seconds (``history_needed``). That is what lets an incremental run
recompute a symbol's newest rows from a short tail of silver and get the one-go result.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import (
    BooleanType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
)

from financial_mlops.features.symbol_history import MICROS, GoldSpec, features_by_group

GOLD_KEYS = ("trade_id", "symbol", "exchange", "event_time", "price", "volume")
# When the trade arrived (bronze's ingestion time), carried into gold when the trades have it
# (silver does): scoring reads gold past an arrival watermark (docs/inference.md).
ARRIVAL = "_ingested_at"
_TIMES = ("event_time", ARRIVAL)  # carried through the per-symbol work as microseconds
# Schemas as types, said rather than asked for: over Spark Connect, parsing DDL or reading a
# frame's columns is an analysis, which a declarative pipeline's query function may not run.
_TYPES = {"trade_id": StringType(), "symbol": StringType(), "exchange": StringType(),
          "_t": LongType(), "price": DoubleType(), "volume": DoubleType(),
          "_arrival_t": LongType()}
_BUCKETS_PER_RANGE = 32  # time buckets per range when placing cuts (``time_ranges``)


def history_needed(gold: Mapping[str, Any]) -> tuple[int, int]:
    """(trades, seconds) of a symbol's history before a trade that its features read."""
    windows = [int(n) for n in gold["windows"]]
    seconds = int(gold["cross_exchange_seconds"])
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
    ``volume`` themselves, which are not named ``f_*`` and so never reach a model. What each
    feature means, and its neutral value where history is too short: ``symbol_history``.

    Spark places the work: each (symbol, time range) group goes to one task, sorted by event
    time once, and is handed, as Arrow batches, to ``symbol_history.symbol_features`` (numpy)
    through ``mapInArrow``. Event and arrival times travel as
    microseconds, so no time zone touches them.
    """
    spec = gold_spec(gold)
    keys = (*GOLD_KEYS, ARRIVAL) if arrival else GOLD_KEYS
    carried = [key for key in keys if key not in _TIMES]
    passed = [*carried, "_t", *(["_arrival_t"] if arrival else [])]
    framed = _known_schema(_in_ranges(trades, keys, ranges).select(
        *carried, "_t", "_range", "_own",
        *([F.unix_micros(ARRIVAL).alias("_arrival_t")] if arrival else [])),
        StructType([*(StructField(key, _TYPES[key]) for key in carried),
                    StructField("_t", LongType()), StructField("_range", IntegerType()),
                    StructField("_own", BooleanType()),
                    *([StructField("_arrival_t", LongType())] if arrival else [])]))
    # Symbols, and the time ranges of the busiest, are hashed over `partitions` tasks, several
    # a core: a task that draws two large ranges delays the end by a fraction of the run (range
    # partitioning would balance them, but reads the whole input twice more to sample it).
    # The sort within them is the order the features are read in.
    ordered = (framed.repartition(int(gold["partitions"]), "symbol", "_range")
               .sortWithinPartitions("symbol", "_range", "_t", "trade_id"))
    schema = StructType([*(StructField(key, _TYPES[key]) for key in passed),
                         *(StructField(name, DoubleType()) for name in spec.feature_names)])

    def per_task(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        return features_by_group(batches, spec, passed)

    # A map over the sorted partitions, not a grouped map: Spark Connect plans a grouped map by
    # analysing its input at once, which a declarative pipeline cannot do while it registers
    # its flows (the tables they read do not exist yet). Arrow batches, not pandas frames:
    # the text columns then pass through the workers untouched.
    computed = ordered.mapInArrow(per_task, schema)
    times = {"event_time": F.timestamp_micros("_t"), ARRIVAL: F.timestamp_micros("_arrival_t")}
    return computed.select(*(times[key].alias(key) if key in times else key for key in keys),
                           *spec.feature_names)


def _known_schema(frame: DataFrame, schema: StructType) -> DataFrame:
    """``frame``, told its schema when it is a Spark Connect frame: a grouped map there reads
    its input's columns, which is an analysis (refused in a declarative pipeline's query
    function, and ``DataFrame.to`` analyses too, on the server). Classic frames need nothing."""
    if hasattr(frame, "_cached_schema"):  # pyspark.sql.connect.dataframe.DataFrame
        frame._cached_schema = schema
    return frame


def gold_spec(gold: Mapping[str, Any]) -> GoldSpec:
    """``parameters_features.yml``'s ``features.gold`` as ``symbol_history`` takes it."""
    return GoldSpec(windows=tuple(sorted({int(n) for n in gold["windows"]})),
                    cross_exchange_seconds=int(gold["cross_exchange_seconds"]))


def parallel_trade_features(trades: DataFrame, gold: Mapping[str, Any], *,
                            arrival: bool = False) -> DataFrame:
    """``trade_features`` with the busiest symbols split by ``time_ranges`` (whose two small
    aggregations run now): what the Kedro nodes write to gold."""
    return trade_features(trades, gold, time_ranges(trades, gold), arrival=arrival)


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
        reads = [None, *(None if h is None else min(lo + b * width - seconds * MICROS,
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


def in_time_order(rows: DataFrame) -> DataFrame:
    """Rows in event-time order within each partition, so that each file written (at most
    ``maxRecordsPerFile`` rows) covers a stretch of time and a MERGE of recent rows
    (``matches_since``) skips the older files. A local sort, within the tasks that computed
    the features: no second shuffle."""
    return rows.sortWithinPartitions("event_time")
