"""Gold equals an independent implementation of the same features, the Polars anchor of the
features benchmark (``benchmarks/polars_anchor.py``, written from docs/features.md's table with
Polars' own rolling sums), on a concentrated market: heavy tails, clustered volatility, bursts
in one millisecond, four symbols from $3 to $61,000, fractional coin sizes."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import polars as pl

from financial_mlops.features import trade_features
from financial_mlops.spark import from_pandas
from tests.conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
from concentrated_market import market  # noqa: E402
from polars_anchor import gold_rows  # noqa: E402


def test_gold_equals_the_polars_anchor_on_a_concentrated_market(spark, features_params):
    trades = market(20_000, seed=5)
    trades["event_time"] = pd.to_datetime(trades.pop("timestamp")).dt.tz_localize(None)
    silver = trades[["trade_id", "symbol", "exchange", "event_time", "price", "volume"]]
    # Small Arrow batches: every symbol reaches its task in several, as on a real market.
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", "1000")
    try:
        gold = (trade_features(from_pandas(spark, silver, "trade_id string, symbol string, "
                                           "exchange string, event_time timestamp, "
                                           "price double, volume double"),
                               features_params["gold"])
                .toPandas().sort_values("trade_id", ignore_index=True))
    finally:
        spark.conf.unset("spark.sql.execution.arrow.maxRecordsPerBatch")
    anchor = (gold_rows(pl.from_pandas(silver.astype({"event_time": "datetime64[us]"})),
                        features_params["gold"])
              .to_pandas().sort_values("trade_id", ignore_index=True))
    features = [c for c in gold.columns if c.startswith("f_")]
    assert features == [c for c in anchor.columns if c.startswith("f_")]
    assert len(gold) == len(anchor) == 20_000
    assert (gold.trade_id == anchor.trade_id).all()
    # The anchor's time sums are prefix sums of doubles (gold's are exact integers): the
    # cross-venue deviation differs by up to ~1e-3 bp; everything else agrees to ~1e-7.
    pd.testing.assert_frame_equal(gold[features], anchor[features], rtol=1e-6, atol=1e-2)
    assert np.abs(gold[features].to_numpy()).max() > 10  # not all neutral
