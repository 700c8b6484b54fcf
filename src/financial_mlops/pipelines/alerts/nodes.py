"""The flagged-trades digest: what the scorer flagged since the previous digest, counted by
symbol and kind, with the top trades by score."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from financial_mlops.alerts.events import make_event, outbox

WATERMARK = "scored_at_micros"  # the latest score already digested
UNLABELLED = "unlabelled"  # the kind of a flagged trade the source gave no label for


def digest_flagged_trades(scores: DataFrame, labels: DataFrame, watermark: dict,
                          alerts: dict) -> tuple[dict, dict]:
    """One digest event of the trades flagged (``is_anomaly``) among the scores written since
    ``watermark``: their count by symbol and kind (the label's ``anomaly_type`` where the
    source knows it), and the ``digest.top_n`` highest scores. Its id is the window it covers,
    so a rerun before new scores arrive sends nothing. Returns the outbox and the watermark to
    save (unchanged when nothing was scored since)."""
    since = watermark.get(WATERMARK)
    scored = scores.select("trade_id", "symbol", "event_time", "score", "is_anomaly",
                           F.unix_micros("scored_at").alias("_scored"))
    if since is not None:
        scored = scored.filter(F.col("_scored") > F.lit(int(since)))
    until = scored.agg(F.max("_scored")).first()[0]
    if until is None:
        return outbox([], alerts), dict(watermark)
    kinds = labels.select("trade_id", F.col("anomaly_type").alias("kind"))
    flagged = (scored.filter(F.col("is_anomaly") == 1).join(kinds, "trade_id", "left")
               .withColumn("kind", F.coalesce("kind", F.lit(UNLABELLED))).localCheckpoint())
    counts = (flagged.groupBy("symbol", "kind").count()
              .orderBy(F.desc("count"), "symbol", "kind").collect())
    top_n = int(alerts["digest"]["top_n"])
    top = flagged.orderBy(F.desc("score"), "trade_id").limit(top_n).collect()
    total = sum(row["count"] for row in counts)
    next_watermark = {**watermark, WATERMARK: int(until)}
    if not total:
        return outbox([], alerts), next_watermark
    by_symbol = [{"symbol": r["symbol"], "kind": r["kind"], "count": r["count"]} for r in counts]
    top_trades = [{"trade_id": r["trade_id"], "symbol": r["symbol"], "kind": r["kind"],
                   "score": round(float(r["score"]), 4), "event_time": str(r["event_time"])}
                  for r in top]
    event = make_event(
        "flagged_trades_digest", "info", (since, until), f"{total:,} trade(s) flagged",
        [", ".join(f"{r['symbol']} {r['kind']}: {r['count']}" for r in by_symbol[:20]),
         "Top by score: " + ", ".join(f"{t['trade_id']} ({t['symbol']}, {t['score']:.3f})"
                                      for t in top_trades)],
        {"flagged": total, "counts": by_symbol, "top": top_trades,
         "window": {"after_micros": since, "until_micros": int(until)}})
    return outbox([event], alerts), next_watermark
