"""Every stage a Databricks wheel task runs, end to end over Spark Connect on the simulated
market: ingestion and features make gold, two tournaments register versions, deployment,
validation and rollback move the champion, drift checks it, and inference scores every trade
once, the way Databricks reads its materialized-view gold: in batch, past the arrival watermark
(the local change-feed stream goes through foreachBatch, covered by ``test_connect_session``); the
digest and every alert the stages raised go through the alert sink and its Delta ledger."""

from __future__ import annotations

import json
import subprocess

import mlflow
from mlflow import MlflowClient

from financial_mlops.promotion.aliases import read_aliases
from tests.conftest import REPO
from tests.pipelines.drift.test_drift_end_to_end import SMALL_RETRAINING

TRADES = 12_000
GOLD = "data/04_feature/gold_trade_features"
SCORES = "data/07_model_output/anomaly_scores"
DRIFT_METRICS = "data/08_reporting/drift_metrics"
WATERMARK = "data/07_model_output/_state/inference_watermark.json"
MODEL = "anomaly_detector"
MARKET = {"ingestion": {"source": "simulator", "simulator": {"trades_per_batch": TRADES,
                                                            "anomaly_rate": 0.03}}}
# The Databricks envs' reading of gold (conf/base/catalog_inference.yml), on a path: in batch.
BATCH_GOLD = f"""
gold_trade_features@changes:
  type: financial_mlops.datasets.DeltaDataset
  path: {GOLD}
"""


def _aliases(project) -> dict:
    mlflow.set_tracking_uri(project.mlflow_uri)
    mlflow.set_registry_uri(project.mlflow_uri)
    return read_aliases(MlflowClient(), MODEL).as_dict()


def test_every_job_entry_point_runs_over_spark_connect(project, read_delta):
    project.run(["ingestion", "features"], params=MARKET)
    gold = read_delta(project.path(GOLD))
    trades = gold.count()
    assert trades > TRADES * 0.9

    for _ in range(2):
        project.run(["tournament", "deployment"], params=SMALL_RETRAINING)
    client = MlflowClient(project.mlflow_uri, project.mlflow_uri)
    versions = sorted(client.search_model_versions(f"name = '{MODEL}'"),
                      key=lambda v: int(v.version))
    assert len(versions) == 2
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True,
                          text=True, check=True).stdout.strip()
    run = client.get_run(versions[0].run_id)
    assert run.data.tags["git_sha"] == head
    assert run.data.tags["delta_version.gold_trade_features"].isdigit()  # DESCRIBE HISTORY
    champion = _aliases(project)["champion"]
    assert champion in {"1", "2"}

    project.run("validation", params=SMALL_RETRAINING)
    other = "1" if champion == "2" else "2"
    project.run("rollback", params={"rollback": {"to_version": int(other)}})
    assert _aliases(project)["champion"] == other

    project.run("drift", params={"drift": {"window": {"by": "rows", "rows": 4000},
                                           "min_window_rows": 1000}})
    assert read_delta(project.path(DRIFT_METRICS)).count() >= 1

    (project.conf / "local" / "catalog_batch_gold.yml").write_text(BATCH_GOLD)
    project.run("inference")  # Databricks: batch past the watermark, MERGE, availableNow
    scores = read_delta(project.path(SCORES))
    assert scores.count() == trades == scores.select("trade_id").distinct().count()
    assert {r[0] for r in scores.select("model_version").distinct().collect()} == {other}
    latest = gold.selectExpr("max(unix_micros(_ingested_at))").first()[0]
    watermark = project.path(WATERMARK)
    assert json.loads(watermark.read_text()) == {"gold_arrived_at_micros": latest}
    # A crash after the MERGE, before the watermark moved: the rerun scores the same rows again
    # and the MERGE keeps one score each.
    watermark.write_text("{}")
    project.run("inference")
    assert read_delta(project.path(SCORES)).count() == trades

    project.run("alerts")  # the flagged-trades digest; every event above went through the sink
    sent = read_delta(project.path("data/08_reporting/alerts_sent")).toPandas()
    assert {"promotion", "rollback", "flagged_trades_digest"} <= set(sent.kind)
