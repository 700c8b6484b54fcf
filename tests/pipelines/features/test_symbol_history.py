"""A Spark task's rows reach gold's numpy work in batches that cut groups anywhere: every group
is still computed whole, once, whatever the batch size."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from financial_mlops.features.gold import gold_spec
from financial_mlops.features.symbol_history import features_by_group, symbol_features

KEYS = ["trade_id", "symbol", "exchange", "price", "volume", "_t"]


def _task_rows(features_params) -> pd.DataFrame:
    """Three groups, sorted as Spark sorts a task's rows: by symbol, range, time, trade_id."""
    rng = np.random.default_rng(3)
    groups = []
    for symbol, part, n in (("AAA", 0, 130), ("AAA", 1, 70), ("ZZZ", 0, 45)):
        t = np.sort(rng.integers(0, 60_000_000, n)) + part * 60_000_000
        groups.append(pd.DataFrame({
            "trade_id": [f"{symbol}{part}-{i:04d}" for i in range(n)], "symbol": symbol,
            "exchange": rng.choice(["XNAS", "NYSE ARCA"], n), "price": 50 + rng.random(n),
            "volume": rng.integers(1, 500, n).astype(float), "_t": t, "_range": part,
            "_own": np.arange(n) >= (30 if part else 0)}))  # a later range's history is not its own
    return pd.concat(groups, ignore_index=True)


def _batch(rows: pd.DataFrame) -> pa.RecordBatch:
    return pa.Table.from_pandas(rows, preserve_index=False).combine_chunks().to_batches()[0]


@pytest.mark.parametrize("batch_rows", [1, 7, 70, 1000])
def test_groups_spread_over_batches_are_computed_whole(features_params, batch_rows):
    rows = _task_rows(features_params)
    spec = gold_spec(features_params["gold"])
    task = _batch(rows)
    batches = [task.slice(i, batch_rows) for i in range(0, len(rows), batch_rows)]
    got = pa.Table.from_batches(list(features_by_group(iter(batches), spec, KEYS)))
    expected = pa.Table.from_batches([
        symbol_features(_batch(group), spec, KEYS)
        for _, group in rows.groupby(["symbol", "_range"], sort=False)])
    assert got.num_rows == 130 + 40 + 45  # own rows only
    assert got.column_names == [*KEYS, *spec.feature_names]
    assert got.equals(expected)
