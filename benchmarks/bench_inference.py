"""Benchmark: streaming inference throughput (>= 100k rows/s on 2 cores for 1M gold rows) and the
live demo's landing-to-score latency (< 30 s).

    .venv/bin/python benchmarks/bench_inference.py [--rows 1000000] [--repeat 2] [--cycles 6]
                                                   [--skip-demo]
    .venv/bin/python benchmarks/bench_inference.py --universe concentrated --rows 3000000 \
        --skip-demo     # issue 17: whole inference run on real-shaped gold, >= 150k rows/s

Throughput, in a throw-away project (a copy of conf/, an XGBoost champion of the project's model
class in its SQLite registry): a small gold commit is scored first (the scores table exists and
Spark's Python workers are warm, as in a running stream), then, ``--repeat`` times, ``--rows``
new gold rows are appended and ``kedro run --pipelines inference`` scores them (change feed ->
champion -> MERGE into anomaly_scores). The target is checked on Spark's own duration of those
micro-batches (what a continuous stream pays per batch); the whole run, with its session and
query start, is shown too. Next to it: the same model's plain in-process ``predict`` on the same
rows in pandas, and Spark scoring alone (same rows, no MERGE). Spark's start is not counted.

Latency, in a second throw-away project: the ingestion and features pipelines build gold from
20k simulated trades, an XGBoost champion is fitted on it (the tournament is not what is timed),
then the live demo (``financial_mlops.demo``) runs ``--cycles`` cycles of 2000 trades, 5 s apart;
a cycle's latency runs from before its batch lands to its last score (the first cycle, which
also scores the initial 20k trades, is shown but not counted). Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
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
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import StreamingQueryListener

from financial_mlops.demo import LiveDemo
from financial_mlops.features.gold import parallel_trade_features
from financial_mlops.modeling.pyfunc import AnomalyDetector, log_detector
from financial_mlops.pipelines.inference.nodes import new_trade_rows, score_trades
from financial_mlops.registry import load_version
from financial_mlops.spark import get_spark

sys.path.insert(0, str(Path(__file__).resolve().parent))
from concentrated_market import landing_files  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "1")
TARGET_ROWS_PER_SECOND = 100_000
TARGET_CONCENTRATED = 150_000
TARGET_LATENCY_SECONDS = 30.0
MODEL = "anomaly_detector"
FEATURES = 15
GOLD = "data/04_feature/gold_trade_features"
SCORES = "data/07_model_output/anomaly_scores"


def _gold(rows: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Gold-contract rows (one trade a millisecond) with 1% planted anomalies, and labels."""
    rng = np.random.default_rng(seed)
    label = (rng.random(rows) < 0.01).astype("int32")
    values = rng.normal(0.0, 1.0, (rows, FEATURES)) + 3 * label[:, None] * (
        rng.random(FEATURES) < 0.3)
    ids = [f"B{seed}-{i:07d}" for i in range(rows)]
    gold = pd.DataFrame(values, columns=[f"f_feature_{i:02d}" for i in range(FEATURES)])
    gold.insert(0, "trade_id", ids)
    gold.insert(1, "symbol", rng.choice(["AAPL", "MSFT", "NVDA", "TSLA"], rows))
    gold.insert(2, "exchange", "XNAS")
    gold.insert(3, "event_time", pd.Timestamp("2026-02-02") + pd.to_timedelta(
        np.arange(rows) + 10_000_000 * seed, unit="ms"))
    gold.insert(4, "price", 100 + rng.normal(size=rows))
    gold.insert(5, "volume", 100 * rng.random(rows))
    return gold, pd.DataFrame({"trade_id": ids, "is_anomaly": label, "anomaly_type": None})


def _register_champion(gold: pd.DataFrame, labels: pd.DataFrame) -> str:
    """An XGBoost detector as the tournament registers it (one OpenMP thread, as the tournament
    defaults to on a small machine), promoted to champion; returns its version."""
    features = [c for c in gold.columns if c.startswith("f_")]
    estimator = xgb.XGBClassifier(n_estimators=300, max_depth=6, n_jobs=1).fit(
        gold[features], labels["is_anomaly"])
    with mlflow.start_run() as run:
        log_detector(AnomalyDetector(estimator, features, threshold=0.5), gold)
    version = mlflow.register_model(f"runs:/{run.info.run_id}/model", MODEL).version
    mlflow.MlflowClient().set_registered_model_alias(MODEL, "champion", version)
    return version


def _project(folder: Path) -> None:
    """A project copy with absolute registry URIs, made current (cwd, Kedro, MLflow)."""
    shutil.copy(REPO / "pyproject.toml", folder)
    (folder / "src").mkdir()
    shutil.copytree(REPO / "conf", folder / "conf", ignore=shutil.ignore_patterns("local"))
    (folder / "conf" / "local").mkdir()
    (folder / "data").mkdir()
    uri = f"sqlite:///{folder / 'data' / 'mlflow.db'}"
    (folder / "conf" / "local" / "mlflow.yml").write_text(yaml.safe_dump(
        {"server": {"mlflow_tracking_uri": uri, "mlflow_registry_uri": uri}}))
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    mlflow.set_experiment(experiment_id=mlflow.create_experiment(
        "bench_champions", artifact_location=str(folder / "data" / "bench_artifacts")))
    os.chdir(folder)
    bootstrap_project(folder)


class _MicroBatches(StreamingQueryListener):
    """Spark's own timing of every micro-batch (``batchDuration``: planning, scoring, MERGE and
    checkpoint), without the Kedro session and the query start that a continuous stream pays
    once. (Its ``numInputRows`` counts every scan of the batch, so rows are counted here.)"""

    def __init__(self) -> None:
        self.seconds: list[float] = []
        self.terminated = 0

    def onQueryStarted(self, event) -> None:
        pass

    def onQueryProgress(self, event) -> None:
        self.seconds.append(event.progress.batchDuration / 1000)

    def onQueryIdle(self, event) -> None:
        pass

    def onQueryTerminated(self, event) -> None:
        self.terminated += 1

    def rows_per_second(self, rows: int) -> float:
        """``rows`` over the micro-batches of the query that just ran (events come late)."""
        deadline = time.monotonic() + 30
        while not self.terminated and time.monotonic() < deadline:
            time.sleep(0.2)
        assert self.seconds, "no micro-batch progress reported"
        seconds, self.seconds, self.terminated = sum(self.seconds), [], 0
        return rows / seconds


def _timed(function, *args):
    start = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - start


def _run(folder: Path, pipelines: list[str], params: dict | None = None) -> None:
    with KedroSession.create(project_path=folder, runtime_params=params or {}) as session:
        session.run(pipeline_names=pipelines)


def throughput(spark: SparkSession, folder: Path, rows: int, repeat: int) -> float:
    _project(folder)
    warmup, warmup_labels = _gold(20_000, seed=0)
    version = _register_champion(warmup, warmup_labels)
    gold_path = str(folder / GOLD)
    spark.createDataFrame(warmup).write.format("delta").save(gold_path)
    _run(folder, ["inference"])
    model = load_version(MODEL, version)
    listener = _MicroBatches()
    spark.streams.addListener(listener)
    streaming_s, batch_rates, plain_s, spark_s = [], [], [], []
    for seed in range(1, repeat + 1):  # each round: `rows` new trades appended to gold
        gold, _ = _gold(rows, seed=seed)
        spark.createDataFrame(gold).repartition(8).write.format("delta").mode("append").save(
            gold_path)
        streaming_s.append(_timed(_run, folder, ["inference"])[1])
        batch_rates.append(listener.rows_per_second(rows))
        features = [c for c in gold.columns if c.startswith("f_")]
        plain_s.append(_timed(model.predict, gold[features])[1])
        changes = (spark.read.format("delta").option("readChangeFeed", "true")
                   .option("startingVersion", seed).option("endingVersion", seed)
                   .load(gold_path))
        spark_s.append(_timed(_score_only, changes, model, version)[1])
    scored = spark.read.format("delta").load(str(folder / SCORES)).count()
    assert scored == rows * repeat + len(warmup), f"{scored} scores, {rows * repeat} + 20k gold"

    run, plain, spark_only = (rows / min(s) for s in (streaming_s, plain_s, spark_s))
    streaming = max(batch_rates)
    print(f"inference throughput, {rows:,} new gold rows x {FEATURES} features, XGBoost 300 "
          f"trees depth 6, best of {repeat} (target >= {TARGET_ROWS_PER_SECOND:,} rows/s "
          "streaming):")
    print(f"  streaming micro-batches (change feed, champion, MERGE, checkpoint; Spark's "
          f"batchDuration): {streaming:,.0f} rows/s "
          f"({', '.join(f'{r:,.0f}' for r in batch_rates)})")
    print(f"  whole `kedro run --pipelines inference` (+ session, query start): {run:,.0f} rows/s "
          f"({_seconds(streaming_s)})")
    print(f"  plain in-process predict of the same model on the same rows (pandas, 1 thread): "
          f"{plain:,.0f} rows/s ({_seconds(plain_s)}); streaming / plain = {streaming / plain:.2f}")
    print(f"  Spark scoring alone (same rows, no MERGE): {spark_only:,.0f} rows/s "
          f"({_seconds(spark_s)})")
    spark.streams.removeListener(listener)
    return streaming


def concentrated_throughput(spark: SparkSession, folder: Path, trades: int) -> float:
    """The whole ``kedro run --pipelines inference`` over the gold of the concentrated market
    (issue 17), as in a running project: gold is computed by the project's own
    ``parallel_trade_features`` from the cached landing files, and a champion is fitted on a
    sample of it (labels: the 1 % largest f_abs_return_z_20, only to have a model of the real
    size). The market's first two minutes are scored first (``anomaly_scores`` exists, Spark's
    Python workers have started once), then a new champion version is promoted and the rest of
    the day is appended to gold and scored by one timed run: it loads that version from the
    registry and MERGEs into the existing table."""
    _project(folder)
    params = yaml.safe_load((REPO / "conf/base/parameters_features.yml").read_text())["features"]
    schema = "trade_id string, symbol string, price double, volume double, timestamp string, " \
             "exchange string"
    silver = (spark.read.schema(schema).json([str(f) for f in landing_files(trades)])
              .withColumn("event_time", F.to_timestamp("timestamp")).drop("timestamp"))
    staged = str(folder / "staged_gold")
    parallel_trade_features(silver, params["gold"]).write.format("delta").save(staged)
    gold = spark.read.format("delta").load(staged)
    cut = gold.agg(F.min("event_time") + F.expr("INTERVAL 2 MINUTES")).first()[0]
    sample = gold.sample(0.05, seed=1).toPandas()
    strength = sample["f_abs_return_z_20"]
    labels = pd.DataFrame({"trade_id": sample["trade_id"],
                           "is_anomaly": (strength >= strength.quantile(0.99)).astype("int32")})
    _register_champion(sample, labels)
    gold.filter(F.col("event_time") < cut).write.format("delta").save(str(folder / GOLD))
    _run(folder, ["inference"])
    _register_champion(sample, labels)
    rest = gold.filter(F.col("event_time") >= cut)
    rest.write.format("delta").mode("append").save(str(folder / GOLD))
    rows = rest.count()
    listener = _MicroBatches()
    spark.streams.addListener(listener)
    _, seconds = _timed(_run, folder, ["inference"])
    batches = listener.rows_per_second(rows)
    spark.streams.removeListener(listener)
    scored = spark.read.format("delta").load(str(folder / SCORES))
    assert scored.count() == trades, f"{scored.count()} scores for {trades} gold rows"
    assert scored.filter(F.col("model_version") == "2").count() == rows
    rate = rows / seconds
    print(f"inference on the concentrated market, {rows:,} new gold rows x "
          f"{sum(c.startswith('f_') for c in sample.columns)} features, XGBoost 300 trees "
          f"depth 6 (target >= {TARGET_CONCENTRATED:,} rows/s):")
    print(f"  whole `kedro run --pipelines inference` (session, champion load, stream, MERGE into "
          f"the existing scores; Spark started before): {seconds:.1f} s = {rate:,.0f} rows/s")
    print(f"  its micro-batches (Spark's batchDuration): {batches:,.0f} rows/s")
    return rate


def _score_only(changes: DataFrame, model, version: str) -> None:
    score_trades(new_trade_rows(changes), model, version).write.format("noop").mode(
        "overwrite").save()


def _seconds(runs: list[float]) -> str:
    return ", ".join(f"{s:.1f}" for s in runs) + " s"


def demo_latency(spark: SparkSession, folder: Path, cycles: int) -> float:
    _project(folder)
    simulated = {"ingestion": {"source": "simulator", "simulator": {"trades_per_batch": 20_000}}}
    _run(folder, ["ingestion", "features"], simulated)
    with KedroSession.create(project_path=folder) as session:
        catalog = session.load_context().catalog
        gold = catalog.load("gold_trade_features@delta").toPandas()
        labels = catalog.load("anomaly_labels").toPandas()
    labels = gold[["trade_id"]].merge(labels, on="trade_id", how="left").fillna({"is_anomaly": 0})
    _register_champion(gold, labels)
    demo = LiveDemo(folder, trades=2000)
    latencies = []
    for _ in range(cycles):
        cycle = demo.cycle()
        print(f"  {cycle.summary()}", flush=True)
        latencies.append(cycle.landing_to_score_seconds)
        time.sleep(5)
    steady = latencies[1:]  # the first cycle also scores the 20k trades gold started with
    worst = max(steady)
    print(f"live demo landing -> score, cycles 2-{cycles} of 2000 trades (target < "
          f"{TARGET_LATENCY_SECONDS:.0f} s): median {statistics.median(steady):.1f} s, "
          f"max {worst:.1f} s")
    return worst


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=2, help="throughput rounds; best counts")
    parser.add_argument("--cycles", type=int, default=6)
    parser.add_argument("--skip-demo", action="store_true")
    parser.add_argument("--universe", choices=("synthetic", "concentrated"), default="synthetic",
                        help="concentrated: gold of the concentrated market, --rows trades")
    args = parser.parse_args()
    spark_conf = yaml.safe_load((REPO / "conf/base/spark.yml").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        spark_conf["spark.sql.warehouse.dir"] = str(Path(tmp) / "warehouse")
        spark = get_spark(spark_conf)
        (Path(tmp) / "throughput").mkdir()
        if args.universe == "concentrated":
            rate = concentrated_throughput(spark, Path(tmp) / "throughput", args.rows)
            ok = rate >= TARGET_CONCENTRATED
        else:
            streaming = throughput(spark, Path(tmp) / "throughput", args.rows, args.repeat)
            ok = streaming >= TARGET_ROWS_PER_SECOND
        if not args.skip_demo:
            (Path(tmp) / "demo").mkdir()
            ok &= demo_latency(spark, Path(tmp) / "demo", args.cycles) < TARGET_LATENCY_SECONDS
    print(f"cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
