"""Gold features: finite on awkward input, and built incrementally through Kedro exactly as in
one go, late trades included; a run with nothing new changes no table."""

from __future__ import annotations

import pandas as pd
import pytest
from delta.tables import DeltaTable
from kedro.io import DatasetError
from pyspark.sql import functions as F

from financial_mlops.datasets.delta import ColumnsChangedError
from financial_mlops.features import trade_features
from financial_mlops.sources.simulator import simulate_batch
from tests.pipelines.features.conftest import bronze_rows, trade_line

BRONZE = "data/02_intermediate/bronze_trades"
SILVER = "data/03_primary/silver_trades"
QUARANTINE = "data/03_primary/silver_trades_quarantine"
GOLD = "data/04_feature/gold_trade_features"
WATERMARK = "data/03_primary/_state/features_watermark.json"


def _features(frame):
    return [c for c in frame.columns if c.startswith("f_")]


def _silver_like(spark, lines):
    bronze = bronze_rows(spark, lines, "file:/landing/a.json", "2026-01-06 09:00:00")
    return bronze.withColumn("event_time", F.to_timestamp("timestamp"))


def test_flat_prices_give_finite_features_and_a_jump_still_shows(spark, features_params):
    """A jump after a flat stretch shows, and a jump down as much as the same jump up: price
    moves and deviations enter as magnitudes (docs/features.md)."""
    lines = []
    for symbol, jumped in (("AAPL", 103.0), ("MSFT", 100.0 / 1.03)):
        lines += [trade_line(f"{symbol}{i:03d}", symbol=symbol, price=100.0, volume=200.0,
                             timestamp=f"2026-01-05T14:{30 + i // 60:02d}:{i % 60:02d}.000Z")
                  for i in range(150)]
        lines.append(trade_line(f"{symbol}JUMP", symbol=symbol, price=jumped, volume=200.0,
                                timestamp="2026-01-05T14:40:00.000Z"))
    gold = trade_features(_silver_like(spark, lines), features_params["gold"]).toPandas()
    features = _features(gold)
    assert gold[features].notna().all().all()
    assert (gold[features].abs() < float("inf")).all().all()
    assert (gold[[f for f in features if f.startswith("f_abs_")]] >= 0).all().all()
    flat = gold[gold.trade_id == "AAPL149"].iloc[0]
    assert flat.f_abs_price_z_20 == 0 and flat.f_abs_return_bps == 0
    assert flat.f_log_volume_z_100 == 0
    assert flat.f_gap_ratio == pytest.approx(1.0)  # a trade a second, as always
    jump = gold[gold.trade_id == "AAPLJUMP"].iloc[0]
    assert jump.f_abs_price_dev_bps_20 == pytest.approx(300.0)
    assert jump.f_abs_return_bps == pytest.approx(295.588, rel=1e-5)
    down = gold[gold.trade_id == "MSFTJUMP"].iloc[0]
    assert down.f_abs_return_bps == pytest.approx(jump.f_abs_return_bps, rel=1e-9)
    assert down.f_abs_run_z_5 == jump.f_abs_run_z_5 == 0  # flat before: no volatility unit
    assert down.f_abs_price_dev_bps_20 == pytest.approx(291.262, rel=1e-5)  # 1 - 1/1.03
    assert jump.f_gap_ratio == pytest.approx(451.0)  # 14:32:29 -> 14:40:00, 451 typical gaps
    first = gold[gold.trade_id == "AAPL000"].iloc[0]  # no history: neutral values
    assert first.f_size_rank_20 == 0.5 and first.f_volume_ratio_20 == 1.0
    assert first.f_gap_ratio == 1.0


def test_model_inputs_are_scale_free(spark, features_params):
    """Multiplying one symbol's prices by 1,000 and its volumes by 100 leaves every one of its
    f_* features unchanged, and no other symbol's (docs/features.md)."""
    trades, _, _ = simulate_batch(3000, seed=5)
    scaled = trades.assign(
        price=trades.price.where(trades.symbol != "AAPL", trades.price * 1000),
        volume=trades.volume.where(trades.symbol != "AAPL", trades.volume * 100))

    def gold_of(frame):
        lines = frame.to_json(orient="records", lines=True).splitlines()
        gold = trade_features(_silver_like(spark, lines), features_params["gold"]).toPandas()
        return gold.sort_values("trade_id", ignore_index=True)

    before, after = gold_of(trades), gold_of(scaled)
    features = _features(before)
    assert not [f for f in features if "mean" in f or "std" in f or f.endswith("_last_5s")]
    assert (before.symbol == "AAPL").sum() > 200
    # rtol 1e-5: a price std from window sums loses a few digits to cancellation when the
    # window is nearly flat (2e-6 seen); atol 1e-4: the cross-venue mean adds logs in whole
    # 1e-9ths (1e-5 bp); a feature in price or size units would move 10-1000x.
    pd.testing.assert_frame_equal(before[features], after[features], rtol=1e-5, atol=1e-4)
    assert not before.f_abs_price_z_20.eq(0).all() and not before.f_log_volume_z_100.eq(0).all()


def test_size_rank_is_the_mid_rank_among_the_previous_trades_ties_counting_half(
        spark, features_params):
    volumes = [300, 100, 200, 200, 500, 100, 200, 50, 900, 200] * 3
    lines = [trade_line(f"V{i:03d}", price=100.0 + i, volume=float(v),
                        timestamp=f"2026-01-05T14:30:{i:02d}.000Z")
             for i, v in enumerate(volumes)]
    gold = trade_features(_silver_like(spark, lines), features_params["gold"]).toPandas()
    ranks = gold.sort_values("trade_id").f_size_rank_20.tolist()
    n = 20
    expected = [0.5] + [
        sum(1.0 if p < v else 0.5 if p == v else 0.0 for p in volumes[max(0, i - n):i])
        / len(volumes[max(0, i - n):i])
        for i, v in enumerate(volumes) if i
    ]
    assert ranks == pytest.approx(expected)
    assert ranks[3] == 0.5 and ranks[4] == 1.0  # 200 after 300, 100, 200; then 500


def _deliveries(n: int = 2400) -> list[pd.DataFrame]:
    """Two deliveries: the first part of a market; then the rest with some of the first part's
    trades arriving late, plus trades three days later, of a symbol never seen before too."""
    trades, _, state = simulate_batch(n, seed=11)
    cut = int(n * 0.6)
    late = trades.iloc[:cut].sample(frac=0.03, random_state=1)
    later, _, _ = simulate_batch(n // 4, seed=11, state=state)
    later = later.assign(timestamp=(pd.to_datetime(later.timestamp) + pd.Timedelta(days=3))
                         .dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    newcomer = later.iloc[:5].assign(symbol="NEWCO", trade_id=lambda f: f.trade_id + "N")
    return [trades.iloc[:cut].drop(late.index),
            pd.concat([trades.iloc[cut:], late, later, newcomer])]


def _append_bronze(spark, project, trades: pd.DataFrame, k: int) -> None:
    lines = trades.to_json(orient="records", lines=True).splitlines()
    bronze = bronze_rows(spark, lines, f"file:/landing/{k}.json", f"2026-02-0{k + 1} 09:00:00")
    bronze.write.format("delta").mode("append").save(str(project.path(BRONZE)))


def _version(spark, project, table: str) -> int:
    return DeltaTable.forPath(spark, str(project.path(table))).history(1).first()["version"]


def test_gold_built_batch_by_batch_equals_gold_built_in_one_go(
        project, spark, read_delta, features_params):
    # A short look-back makes the run widen its search for history (after the gap, new symbol).
    params = {"features": {"incremental": {"lookback_seconds": 60}}}
    first, second = _deliveries()
    _append_bronze(spark, project, first, 0)
    project.run("features", params=params)
    # A run stops after silver (no gold, no watermark); the next one repeats its batch.
    _append_bronze(spark, project, second, 1)
    project.run("features", params=params, node_names=["split_bronze_into_silver_and_quarantine"])
    project.run("features", params=params)

    silver, gold = read_delta(project.path(SILVER)), read_delta(project.path(GOLD))
    total = len(first) + len(second)
    assert read_delta(project.path(BRONZE)).count() == total
    assert silver.count() == total
    assert read_delta(project.path(QUARANTINE)).count() == 0
    one_go = trade_features(silver, features_params["gold"], arrival=True)
    assert gold.count() == total
    assert gold.exceptAll(one_go.select(*gold.columns)).count() == 0

    # Nothing new in bronze: no table gets a new version.
    versions = {t: _version(spark, project, t) for t in (SILVER, QUARANTINE, GOLD)}
    watermark = project.path(WATERMARK).read_text()
    project.run("features", params=params)
    assert {t: _version(spark, project, t) for t in (SILVER, QUARANTINE, GOLD)} == versions
    assert project.path(WATERMARK).read_text() == watermark


def test_a_changed_feature_set_is_refused_until_gold_is_rebuilt(
        project, spark, read_delta, features_params):
    """Gold written with an older feature set is not MERGEd into with a one-line error naming
    `rebuild_gold`, which replaces gold from silver; incremental runs then go on."""
    trades, _, state = simulate_batch(600, seed=3)
    _append_bronze(spark, project, trades, 0)
    project.run("features")
    changed = {"features": {"gold": {"windows": [20, 60]}}}
    more, _, _ = simulate_batch(200, seed=3, state=state)
    _append_bronze(spark, project, more, 1)
    with pytest.raises(DatasetError, match="rebuild_gold") as error:
        project.run("features", params=changed)
    assert isinstance(error.value.__cause__, ColumnsChangedError)  # the CLI prints one line
    assert "\n" not in str(error.value) and "f_abs_price_z_60" in str(error.value)

    project.run("rebuild_gold", params=changed)
    project.run("features", params=changed)
    gold = read_delta(project.path(GOLD))
    assert "f_abs_price_z_60" in gold.columns and "f_abs_price_z_100" not in gold.columns
    assert gold.count() == read_delta(project.path(SILVER)).count() == 800
