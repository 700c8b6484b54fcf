"""Ingestion then features, run for real through Kedro on small simulator batches."""

from __future__ import annotations

import math

from pyspark.sql import functions as F

from financial_mlops.pipeline_registry import register_pipelines

BRONZE = "data/02_intermediate/bronze_trades"
SILVER = "data/03_primary/silver_trades"
QUARANTINE = "data/03_primary/silver_trades_quarantine"
GOLD = "data/04_feature/gold_trade_features"


def _simulator(n: int) -> dict:
    return {"ingestion": {"source": "simulator", "simulator": {"trades_per_batch": n}}}


def test_ingestion_then_features_accounts_for_every_trade(project, read_delta):
    project.run(["ingestion", "features"], params=_simulator(2500))

    bronze, silver = read_delta(project.path(BRONZE)), read_delta(project.path(SILVER))
    quarantine, gold = read_delta(project.path(QUARANTINE)), read_delta(project.path(GOLD))
    assert bronze.count() == 2500
    assert silver.count() + quarantine.count() == 2500
    assert silver.count() == 2500  # the simulator delivers clean trades
    assert gold.count() == silver.count()
    assert gold.join(silver, "trade_id", "left_anti").count() == 0

    features = [c for c in gold.columns if c.startswith("f_")]
    assert len(features) >= 20
    assert all(dict(gold.dtypes)[c] == "double" for c in features)
    row = gold.select(*(F.sum(F.abs(c)).alias(c) for c in features)).first()
    assert all(math.isfinite(row[c]) for c in features)
    assert gold.filter(" OR ".join(f"{c} IS NULL OR isnan({c})" for c in features)).count() == 0


def test_the_whole_flow_runs_features_between_ingestion_and_training(project):
    flow = register_pipelines()["__default__"]
    assert {"split_bronze_into_silver_and_quarantine", "build_gold_features"} <= {
        node.name for node in flow.nodes}
    # Bronze comes from ingestion and gold goes on to the tournament, within the same flow.
    assert "bronze_trades" in flow.all_outputs()
    assert "gold_trade_features@delta" in flow.all_inputs()
