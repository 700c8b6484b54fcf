"""Benchmark: one drift check over 200k recent gold rows x 30 features in <= 30 s on 2 cores.

    .venv/bin/python benchmarks/bench_drift.py [--rows 200000] [--features 30]

Sets up a throw-away project (a copy of conf/, Delta gold and labels, an XGBoost champion of the
project's model class registered with its reference profile in the project's SQLite registry,
silver arrival times), then times the ``drift`` pipeline through Kedro: the window of what
arrived taken from Delta by Spark, scored by the champion, PSI and KS on the whole window and per
symbol (8 symbols, skewed like real feeds), report, MLflow logging, the retraining decision (a
200k-row window of a drifted market: it alerts, and the retraining job is replaced by a no-op so
only drift is timed). Stages are timed by calling the same nodes. Spark's start is not counted
(one session per process, paid once by every run). Exits 1 above the target.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import xgboost as xgb
import yaml
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from financial_mlops.modeling.pyfunc import AnomalyDetector, log_detector
from financial_mlops.pipelines.drift.nodes import check_drift, report_drift, select_window
from financial_mlops.profile import build_reference_profile
from financial_mlops.spark import get_spark

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "1")
TARGET_SECONDS = 30.0
MODEL = "anomaly_detector"
SYMBOLS = ["SPY", "QQQ", "AAPL", "MSFT", "NVDA", "TSLA", "AMZN", "BRK.B"]
ACTIVITY = [0.45, 0.2, 0.1, 0.08, 0.07, 0.05, 0.03, 0.02]  # one ETF carries most prints


def _gold(rows: int, features: int, seed: int, shift: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Gold rows (one trade a second) whose features are N(shift, 1) with 1% anomalies."""
    rng = np.random.default_rng(seed)
    label = (rng.random(rows) < 0.01).astype("int32")
    planted = 3 * label[:, None] * (rng.random(features) < 0.3)
    values = rng.normal(shift, 1.0, (rows, features)) + planted
    ids = [f"B{seed}-{i:07d}" for i in range(rows)]
    gold = pd.DataFrame(values, columns=[f"f_feature_{i:02d}" for i in range(features)])
    gold.insert(0, "trade_id", ids)
    gold.insert(1, "symbol", rng.choice(SYMBOLS, rows, p=ACTIVITY))
    gold.insert(2, "event_time", pd.Timestamp("2026-02-02") + pd.to_timedelta(
        np.arange(rows) + 10_000_000 * seed, unit="s"))
    return gold, pd.DataFrame({"trade_id": ids, "is_anomaly": label, "anomaly_type": None})


def _register_champion(gold: pd.DataFrame, labels: pd.DataFrame) -> None:
    features = [c for c in gold.columns if c.startswith("f_")]
    estimator = xgb.XGBClassifier(n_estimators=300, max_depth=6, n_jobs=2).fit(
        gold[features], labels["is_anomaly"])
    detector = AnomalyDetector(estimator, features, threshold=0.5)
    with mlflow.start_run() as run:
        log_detector(detector, gold)
        scores = detector.predict(None, gold)["score"].to_numpy()
        mlflow.log_dict(build_reference_profile(gold[features], scores, segments=gold[["symbol"]]),
                        "reference_profile.json")
        mlflow.log_metric("test_pr_auc", 0.8)
    version = mlflow.register_model(f"runs:/{run.info.run_id}/model", MODEL).version
    mlflow.MlflowClient().set_registered_model_alias(MODEL, "champion", version)


def _project(folder: Path, spark, rows: int, features: int) -> None:
    """conf/ with absolute registry URIs and a no-op retraining job; gold, labels, champion."""
    shutil.copy(REPO / "pyproject.toml", folder)
    (folder / "src").mkdir()
    shutil.copytree(REPO / "conf", folder / "conf", ignore=shutil.ignore_patterns("local"))
    local = folder / "conf" / "local"
    local.mkdir()
    uri = f"sqlite:///{folder / 'data' / 'mlflow.db'}"
    (local / "mlflow.yml").write_text(yaml.safe_dump(
        {"server": {"mlflow_tracking_uri": uri, "mlflow_registry_uri": uri}}))
    (local / "catalog_bench.yml").write_text(yaml.safe_dump(
        {"retraining_job": {"type": "MemoryDataset"}}))
    (folder / "data").mkdir()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    mlflow.set_experiment(experiment_id=mlflow.create_experiment(
        "bench_champions", artifact_location=str(folder / "data" / "bench_artifacts")))
    reference, reference_labels = _gold(20_000, features, seed=0, shift=0.0)
    _register_champion(reference, reference_labels)
    recent, recent_labels = _gold(rows, features, seed=1, shift=0.6)
    arrivals = pd.DataFrame({"trade_id": recent["trade_id"],
                             "_ingested_at": pd.Timestamp("2026-03-01 12:00")})
    for frame, table in ((recent, "04_feature/gold_trade_features"),
                         (recent_labels, "02_intermediate/anomaly_labels"),
                         (arrivals, "03_primary/silver_trades")):
        spark.createDataFrame(frame).write.format("delta").save(str(folder / "data" / table))


def _timed(function, *args):
    start = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--features", type=int, default=30)
    args = parser.parse_args()
    spark_conf = yaml.safe_load((REPO / "conf/base/spark.yml").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        spark_conf["spark.sql.warehouse.dir"] = str(folder / "warehouse")
        spark = get_spark(spark_conf)
        _project(folder, spark, args.rows, args.features)
        os.chdir(folder)
        bootstrap_project(folder)
        params = {"drift": {"window": {"max_rows": args.rows}}}
        with KedroSession.create(project_path=folder, runtime_params=params) as session:
            _, total = _timed(lambda: session.run(pipeline_names=["drift"]))

        with KedroSession.create(project_path=folder, runtime_params=params) as session:
            context = session.load_context()
            catalog, drift = context.catalog, context.params["drift"]
            (window, coverage), select_s = _timed(
                select_window, catalog.load("gold_trade_features@delta"),
                catalog.load("silver_trades"), catalog.load("anomaly_labels"), {}, drift)
            champion = catalog.load("drift_champion")
            check, check_s = _timed(check_drift, window, coverage, champion, drift)
            _, report_s = _timed(report_drift, check, drift)
    print(f"drift check over {len(window):,} rows x {args.features} features, "
          f"{len(check['segments'])} segments (verdict "
          f"{check['verdict']}): {total:.1f} s through Kedro (target <= {TARGET_SECONDS:.0f} s)")
    print(f"  stages: window from Delta {select_s:.1f} s, scoring + PSI/KS {check_s:.1f} s, "
          f"report {report_s:.1f} s; cores: {os.cpu_count()}, load: {os.getloadavg()[0]:.1f}")
    return 0 if total <= TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
