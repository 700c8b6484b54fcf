"""The declarative pipeline run for real with `spark-pipelines` (twice, new landing files in
between) builds the same silver, quarantine and gold tables as the Kedro path does from the
same landing files."""

from __future__ import annotations

import json

import pytest
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from financial_mlops.declarative import run_local
from financial_mlops.features import GOLD_KEYS
from financial_mlops.features.gold import ARRIVAL
from financial_mlops.sources.simulator import simulate_batch

LANDING = "data/01_raw/streaming_landing/trades"
KEDRO_TABLES = {
    "silver_trades": "data/03_primary/silver_trades",
    "silver_trades_quarantine": "data/03_primary/silver_trades_quarantine",
    "gold_trade_features": "data/04_feature/gold_trade_features",
}
SILVER = ("trade_id", "symbol", "exchange", "event_time", "price", "volume")
QUARANTINE = ("trade_id", "symbol", "price", "volume", "timestamp", "exchange", "raw_record")


def _landing_files() -> list[list[str]]:
    """Two deliveries of simulated trades; the second re-delivers two trades of the first
    (one identical, one changed) and brings trades that happened before it; bad lines in both."""
    first, _, state = simulate_batch(1200, seed=5)
    second, _, _ = simulate_batch(600, seed=5, state=state)
    late = first.sample(20, random_state=2).assign(trade_id=lambda f: f.trade_id + "-LATE")
    again = first.iloc[[10]]
    changed = first.iloc[[11]].assign(price=lambda f: f.price * 1.5)
    bad = ["not json", json.dumps({"trade_id": "BAD1", "symbol": "AAPL", "price": -1}),
           json.dumps({**first.iloc[0].to_dict(), "trade_id": "BAD2", "timestamp": "soon"})]

    def lines(frame):
        return frame.to_json(orient="records", lines=True).splitlines()

    return [lines(first) + bad[:2],
            lines(second) + lines(late) + lines(again) + lines(changed) + bad[2:]]


def _same_rows(left: DataFrame, right: DataFrame) -> bool:
    return left.exceptAll(right).isEmpty() and right.exceptAll(left).isEmpty()


@pytest.mark.slow
def test_declarative_pipeline_builds_the_same_tables_as_kedro(project, spark, read_delta,
                                                              connect_port):
    landing = project.path(LANDING)
    landing.mkdir(parents=True)
    root = project.path("declarative")
    for k, lines in enumerate(_landing_files()):
        (landing / f"trades-{k}.json").write_text("\n".join(lines) + "\n")
        project.run("ingestion", node_names=["load_landing_into_bronze"])
        project.run("features")
        run_local.run(root, landing, project.conf, env="base")

    declared = {name: spark.read.parquet(str(root / "warehouse" / name))
                for name in KEDRO_TABLES}
    kedro = {name: read_delta(project.path(path)) for name, path in KEDRO_TABLES.items()}
    assert declared["silver_trades"].count() == 1200 + 600 + 20
    assert _same_rows(declared["silver_trades"].select(*SILVER),
                      kedro["silver_trades"].select(*SILVER))

    def reasons(frame):
        return frame.select(*QUARANTINE, F.array_sort("broken_rules").alias("rules"))

    assert {tuple(r.rules) for r in reasons(declared["silver_trades_quarantine"]).collect()} == {
        ("record_parsed",), ("exchange_present", "price_positive_finite", "timestamp_present",
                             "volume_positive_finite"), ("timestamp_parseable",),
        ("duplicate_identical",), ("duplicate_conflicting",)}
    assert _same_rows(reasons(declared["silver_trades_quarantine"]),
                      reasons(kedro["silver_trades_quarantine"]))

    # Both carry each trade's arrival, stamped by their own ingestion (so not compared).
    assert ARRIVAL in declared["gold_trade_features"].columns
    gold = kedro["gold_trade_features"].drop(ARRIVAL)
    assert _same_rows(declared["gold_trade_features"].select(*gold.columns), gold)
    assert set(gold.columns) > set(GOLD_KEYS)
