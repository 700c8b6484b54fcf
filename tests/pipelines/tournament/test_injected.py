"""Training on the user's own market: anomalies injected into a copy of its silver trades,
sized by each symbol's own behaviour, labelled, never written anywhere."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from financial_mlops.errors import UserError
from financial_mlops.modeling.injected import inject_anomalies
from financial_mlops.pipelines.tournament.nodes import labelled_trades
from financial_mlops.sources.simulator import ANOMALY_KINDS
from tests.pipelines.features.conftest import load_features_params
from tests.pipelines.tournament.conftest import tiny_budget


def foreign_market(n: int = 6000, seed: int = 0) -> pd.DataFrame:
    """A market the simulator did not make: a penny name quoted in 4 decimals, a quiet
    four-digit name, a busy crypto pair; venues with spaces."""
    rng = np.random.default_rng(seed)
    symbols = np.array(["PNNY", "BRK.A", "btcusdt"])
    levels, vols, sizes, decimals = [0.05, 5000.0, 60000.0], [2e-3, 2e-4, 5e-4], [5000, 3, 40], 4
    symbol = rng.choice(3, n, p=[0.2, 0.1, 0.7])
    steps = rng.standard_t(3, n) * np.array(vols)[symbol]
    log_price = np.log(np.array(levels))[symbol] + pd.Series(steps).groupby(symbol).cumsum()
    return pd.DataFrame({
        "trade_id": [f"R{i:07d}" for i in range(n)],
        "symbol": symbols[symbol],
        "exchange": rng.choice(["NASDAQ BX", "NYSE ARCA", "BATS Y"], n),
        "event_time": pd.Timestamp("2026-03-02 01:00") + pd.to_timedelta(
            np.cumsum(rng.exponential(0.2, n)), unit="s"),
        "price": np.round(np.exp(log_price), decimals),
        "volume": np.ceil(rng.lognormal(0, 1, n) * np.array(sizes)[symbol]),
    })


def test_injected_prints_are_labelled_and_sized_by_their_symbols_behaviour():
    trades = foreign_market()
    rows, labels = inject_anomalies(trades, rate=0.01, seed=3)
    injected = rows[rows.trade_id.str.startswith("INJ-3-")]
    assert len(rows) == len(labels) and set(labels.trade_id) == set(rows.trade_id)
    assert labels.is_anomaly.sum() == len(injected) == pytest.approx(0.01 * len(rows), rel=0.2)
    assert set(labels.loc[labels.is_anomaly == 1, "anomaly_type"]) <= set(ANOMALY_KINDS)
    # The user's trades are all there, unchanged.
    real = rows[~rows.trade_id.str.startswith("INJ-")].sort_values("trade_id", ignore_index=True)
    pd.testing.assert_frame_equal(real[["trade_id", "symbol", "price", "volume"]],
                                  trades[["trade_id", "symbol", "price", "volume"]])
    assert set(injected.exchange) <= set(trades.exchange)
    # Prices stay on the market's own grid (4 decimals here), near each symbol's own range (a
    # 30-sigma jump of the heavy-tailed penny name moves it by a quarter or more).
    assert np.allclose(injected.price, injected.price.round(4))
    for symbol, group in injected.groupby("symbol"):
        own = trades[trades.symbol == symbol].price
        assert group.price.between(own.min() * 0.5, own.max() * 2).all()
    # Sizes scale with the symbol's typical size: the penny name's prints are thousands.
    typical = trades.groupby("symbol").volume.median()
    ratio = injected.groupby("symbol").volume.median() / typical[injected.symbol.unique()]
    assert ratio.between(0.3, 60).all()


def test_a_different_seed_injects_other_prints():
    trades = foreign_market()
    first, _ = inject_anomalies(trades, rate=0.01, seed=1)
    second, _ = inject_anomalies(trades, rate=0.01, seed=2)
    a = first[first.trade_id.str.startswith("INJ-")]
    b = second[second.trade_id.str.startswith("INJ-")]
    assert not set(zip(a.event_time, a.price, strict=True)) & set(
        zip(b.event_time, b.price, strict=True))


def test_too_little_history_or_a_bad_rate_is_a_one_line_error():
    with pytest.raises(UserError, match="too few trades"):
        inject_anomalies(foreign_market(40), rate=0.05, seed=1)
    with pytest.raises(UserError, match="rate must be within"):
        inject_anomalies(foreign_market(), rate=0.5, seed=1)


def test_injected_mode_builds_gold_features_for_a_copy_of_silver(spark):
    trades = foreign_market(3000)
    silver = spark.createDataFrame(trades)
    params = tiny_budget()
    params["labels"] = "injected"
    params["injected"].update(rate=0.01, max_trades=2500)
    gold, labels = labelled_trades(None, None, silver, params, load_features_params())
    gold, labels = gold.toPandas(), labels.toPandas()
    assert len(gold) == len(labels) > 2500
    assert labels.is_anomaly.sum() == gold.trade_id.str.startswith("INJ-").sum() > 10
    assert [c for c in gold if c.startswith("f_")]
    assert silver.count() == 3000  # the source rows are untouched

    params["labels"] = "guessed"
    with pytest.raises(UserError, match="tournament.labels is 'guessed'"):
        labelled_trades(None, None, silver, params, load_features_params())

