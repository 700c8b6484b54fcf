"""Gold rows of an injected copy of the user's silver trades, for markets without labels: what
the tournament trains on with ``tournament.labels: injected``, and what the deployment judges
such a challenger (and the champion) on. The anomalies come from ``modeling.injected``, the
features from gold's own ``trade_features``; the copy lives in memory only, so injected prints
never reach bronze, silver, gold or anomaly_scores.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from financial_mlops.errors import UserError
from financial_mlops.features import trade_features
from financial_mlops.modeling.injected import TRADE_COLUMNS, inject_anomalies
from financial_mlops.spark import from_pandas


def injected_gold(trades: DataFrame, injected: Mapping[str, Any], *, seed: int,
                  gold: Mapping[str, Any]) -> tuple[DataFrame, pd.DataFrame]:
    """(gold rows of ``trades`` plus the prints injected by ``seed``, the labels of all of
    them). ``injected``: ``rate`` and ``anomaly_mix`` (``tournament.injected``); ``gold``: the
    features parameters. ``trades`` are pulled to the driver."""
    rows = trades.select(*TRADE_COLUMNS)
    copy, labels = inject_anomalies(rows.toPandas(), rate=float(injected["rate"]), seed=seed,
                                    mix=injected.get("anomaly_mix"))
    return trade_features(from_pandas(trades.sparkSession, copy, rows.schema), gold), labels


def held_out_injected(silver: DataFrame, since: str, rows: int, injected: Mapping[str, Any], *,
                      seed: int, gold: Mapping[str, Any]) -> pd.DataFrame:
    """The newest ``rows`` silver trades at or after ``since`` (a time after which a model
    neither trained nor tuned on anything), with anomalies injected by ``seed``: gold rows with
    ``is_anomaly``, newest first. Their features come from the copy's own history, as the
    training copy's did (a symbol's first trades in it have a short one)."""
    held_out = (silver.where(F.col("event_time") >= F.lit(since).cast("timestamp"))
                .orderBy(F.desc("event_time"), F.desc("trade_id")).limit(int(rows)))
    if held_out.isEmpty():
        raise UserError(f"silver_trades holds no trade at or after {since}, where the "
                        "challenger's training data ended: ingest new trades to judge it on")
    features, labels = injected_gold(held_out, injected, seed=seed, gold=gold)
    frame = features.toPandas().merge(labels[["trade_id", "is_anomaly"]], on="trade_id")
    return frame.sort_values(["event_time", "trade_id"], ascending=False, ignore_index=True)
