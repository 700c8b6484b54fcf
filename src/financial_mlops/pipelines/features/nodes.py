"""Features nodes: the incremental bookkeeping around the shared medallion functions.

A run takes the bronze rows ingested after the watermark, splits them into new silver rows and
quarantine rows, recomputes gold for the silver rows they affect (with just enough history
before them), and only then moves the watermark. Every write is a MERGE on a key, so a run
that stops half-way is repeated by the next one without doubling anything.
"""

from __future__ import annotations

from typing import Any

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from financial_mlops.features import silver_rules, split_trades, trade_features, typed_trades
from financial_mlops.features.gold import history_needed, in_time_order, parallel_trade_features

WATERMARK = "bronze_ingested_at_micros"
# How far back, in multiples of `lookback_seconds`, a run looks for a symbol's history before
# reading all of it (a symbol quiet for longer, e.g. over a weekend, or a new one).
_REACH = (1, 24, 24 * 7)


def _at(micros: int) -> F.Column:
    """A timestamp literal from epoch microseconds (no time-zone round trip through Python)."""
    return F.timestamp_micros(F.lit(micros))


def _after(column: str, micros: int | None) -> F.Column:
    return F.lit(True) if micros is None else F.col(column) > _at(micros)


def split_silver(
    bronze: DataFrame, silver: DataFrame, watermark: dict, features: dict[str, Any]
) -> tuple[DataFrame, DataFrame, dict]:
    """The bronze rows ingested after the watermark, as new silver rows and quarantine rows
    (each row lands in exactly one of them, or is recognised as already in silver when its batch
    is re-processed), and the watermark that marks them done, saved only once gold is written.

    The batch is read once and kept (``localCheckpoint``): both outputs and the watermark come
    from that one snapshot of bronze, however much is ingested meanwhile.
    """
    since = watermark.get(WATERMARK)
    batch = bronze.filter(_after("_ingested_at", since)).localCheckpoint()
    bounds = batch.agg(F.max(F.unix_micros("_ingested_at")).alias("until"),
                       F.min("trade_id").alias("low"), F.max("trade_id").alias("high")).first()
    # Silver is read once, for the rows sharing a trade_id with the batch. The id range is
    # redundant with the join but lets Delta skip files when ids grow with time.
    known = (
        silver.filter(F.col("trade_id").between(bounds["low"], bounds["high"]))
        .join(batch.select("trade_id"), "trade_id", "left_semi")
        .localCheckpoint()
    )
    # The checked rows are kept once: both outputs read them, each MERGE twice.
    accepted, rejected = split_trades(typed_trades(batch), silver_rules(features["rules"]),
                                      known, keep=lambda rows: rows.localCheckpoint())
    pending = dict(watermark) if bounds["until"] is None else {
        **watermark, WATERMARK: bounds["until"]}
    return in_time_order(accepted).localCheckpoint(), rejected, pending


def build_gold(
    silver: DataFrame, watermark: dict, next_watermark: dict, features: dict[str, Any]
) -> tuple[DataFrame, dict]:
    """Gold rows to MERGE for the silver rows of this run, and the watermark to save after them.

    For each symbol with new rows, every silver row from its earliest new trade on is recomputed
    (a late trade changes the features of the trades after it), from a tail of the symbol's
    earlier rows as long as the feature windows reach back.
    """
    since = watermark.get(WATERMARK)
    if since is None:  # first run: all of silver is new
        return (in_time_order(parallel_trade_features(silver, features["gold"], arrival=True)),
                next_watermark)
    starts = (
        silver.filter(_after("_ingested_at", since))
        .groupBy("symbol").agg(F.min(F.unix_micros("event_time")).alias("_start"))
        .collect()
    )
    if not starts:
        return trade_features(silver.limit(0), features["gold"], arrival=True), next_watermark
    starts_df = F.broadcast(
        silver.sparkSession.createDataFrame(starts, "symbol string, _start long")
        .withColumn("_start", F.timestamp_micros("_start")))
    earliest = min(row["_start"] for row in starts)
    frame = _recompute_frame(silver, starts_df, {row["symbol"] for row in starts}, earliest,
                             features)
    gold = (
        parallel_trade_features(frame, features["gold"], arrival=True)
        .join(starts_df, "symbol")
        .filter(F.col("event_time") >= F.col("_start"))
        .drop("_start")
    )
    # Computed once: the MERGE reads it twice (its earliest event time, then the rows).
    return in_time_order(gold).localCheckpoint(), next_watermark


def _recompute_frame(silver: DataFrame, starts: DataFrame, symbols: set[str], earliest: int,
                     features: dict[str, Any]) -> DataFrame:
    """Each symbol's rows from its start on, plus the history before them its windows read."""
    depth, span = history_needed(features["gold"])
    recompute = (
        silver.filter(F.col("event_time") >= _at(earliest))
        .join(starts, "symbol")
        .filter(F.col("event_time") >= F.col("_start"))
    )
    lookback = int(features["incremental"]["lookback_seconds"])
    history = _history(silver, starts, symbols, earliest, depth, span, lookback)
    return recompute.unionByName(history).drop("_start")


def _history(silver: DataFrame, starts: DataFrame, symbols: set[str], earliest: int,
             depth: int, span: int, lookback: int) -> DataFrame:
    """Per symbol, the ``depth`` rows before its start and all rows of the ``span`` seconds
    before it. Read from a bounded stretch of silver (cheap with Delta data skipping), widened
    only for symbols whose stretch holds fewer than ``depth`` rows."""
    found, pending = [], set(symbols)
    for reach in (*_REACH, None):
        rows = silver
        if reach is not None:
            rows = silver.filter(
                F.col("event_time") >= _at(earliest - max(lookback * reach, span) * 1_000_000))
        candidates = rows.join(starts.filter(F.col("symbol").isin(sorted(pending))), "symbol")
        tail = _tail(candidates, depth, span).localCheckpoint()
        if reach is None:
            found.append(tail)
            break
        counts = tail.filter(F.col("_back") <= depth).groupBy("symbol").count().collect()
        complete = {row["symbol"] for row in counts if row["count"] >= depth}
        found.append(tail.filter(F.col("symbol").isin(sorted(complete))))
        pending -= complete
        if not pending:
            break
    history = found[0]
    for part in found[1:]:
        history = history.unionByName(part)
    return history.drop("_back")


def _tail(rows: DataFrame, depth: int, span: int) -> DataFrame:
    before = rows.filter(F.col("event_time") < F.col("_start"))
    newest_first = Window.partitionBy("symbol").orderBy(F.desc("event_time"), F.desc("trade_id"))
    within_span = F.col("event_time") >= F.col("_start") - F.expr(f"INTERVAL {span} SECONDS")
    return before.withColumn("_back", F.row_number().over(newest_first)).filter(
        (F.col("_back") <= depth) | within_span)
