"""Fixtures for streaming inference: gold tables written directly (no features pipeline), a real
SQLite registry holding contract models, and the continuous stream in a process of its own."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from delta.tables import DeltaTable
from tests.pipelines.deployment.conftest import migrated_registry, use_registry  # noqa: F401
from tests.pipelines.deployment.contract_model import register_version, synthetic_gold

MODEL = "anomaly_detector"
GOLD = "data/04_feature/gold_trade_features"
SCORES = "data/07_model_output/anomaly_scores"
CHECKPOINT = "data/07_model_output/_checkpoints/anomaly_scores"


@pytest.fixture(scope="session")
def model_registry(tmp_path_factory, migrated_registry) -> Path:  # noqa: F811
    """A registry with two contract versions of ``anomaly_detector`` and no alias yet: 1 scores
    with ``f_strong``, 2 with ``f_medium``. Tests copy it (its artifacts stay where they are)."""
    folder = tmp_path_factory.mktemp("inference_registry")
    previous = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    use_registry(migrated_registry, folder / "mlflow.db", folder / "artifacts")
    gold, labels = synthetic_gold()
    for feature in ("f_strong", "f_medium"):
        register_version(MODEL, gold, labels, feature=feature)
    mlflow.set_tracking_uri(previous[0])
    mlflow.set_registry_uri(previous[1])
    return folder / "mlflow.db"


@dataclass
class ScoringProject:
    """A project copy whose registry holds the two versions, with helpers to feed gold and read
    the scores."""

    project: object
    spark: object

    def path(self, relative: str) -> Path:
        return self.project.path(relative)

    def promote(self, version: int) -> None:
        mlflow.MlflowClient().set_registered_model_alias(MODEL, "champion", str(version))

    def add_gold(self, rows: pd.DataFrame, files: int = 1) -> None:
        """Append gold rows as one Delta commit of ``files`` files."""
        frame = self.spark.createDataFrame(rows).repartition(files)
        frame.write.format("delta").mode("append").save(str(self.path(GOLD)))

    def update_gold(self, rows: pd.DataFrame) -> None:
        """MERGE gold rows as the features pipeline does (matched trades recomputed)."""
        source = self.spark.createDataFrame(rows)
        gold = DeltaTable.forPath(self.spark, str(self.path(GOLD)))
        (gold.alias("t").merge(source.alias("s"), "t.trade_id = s.trade_id")
         .whenMatchedUpdateAll().whenNotMatchedInsertAll().execute())

    def gold_count(self) -> int:
        return self.spark.read.format("delta").load(str(self.path(GOLD))).count()

    def scores(self) -> pd.DataFrame:
        path = self.path(SCORES)
        # Its first commit, not DeltaTable.isDeltaTable: that keeps answering False once it has,
        # even after another process (the stream) creates the table.
        if not (path / "_delta_log" / f"{0:020d}.json").exists():
            return pd.DataFrame(columns=["trade_id", "score", "model_version"])
        return self.spark.read.format("delta").load(str(path)).toPandas()

    def run(self, **inference) -> None:
        self.project.run("inference", params={"inference": inference} if inference else None)


@pytest.fixture
def scoring(project, spark, model_registry) -> ScoringProject:
    """The isolated project (see tests/conftest.py) with its own copy of the registry."""
    previous = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    shutil.copy(model_registry, project.path("data/mlflow.db"))
    mlflow.set_tracking_uri(project.mlflow_uri)
    mlflow.set_registry_uri(project.mlflow_uri)
    yield ScoringProject(project, spark)
    while mlflow.active_run():
        mlflow.end_run()
    mlflow.set_tracking_uri(previous[0])
    mlflow.set_registry_uri(previous[1])


def gold_rows(n: int, seed: int) -> pd.DataFrame:
    """``n`` gold-contract rows whose trade ids are unique to ``seed``."""
    return synthetic_gold(n, seed=seed)[0]


class ContinuousStream:
    """``python -m financial_mlops --pipelines inference`` in continuous mode, in a process group
    of its own (as the Databricks job runs it), with its output in ``log``."""

    def __init__(self, workdir: Path, interval: str = "1 seconds") -> None:
        self.log = workdir / "stream.log"
        env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "true", "PYTHONUNBUFFERED": "1"}
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "financial_mlops", "--pipelines", "inference", "--params",
                 f"inference.mode=continuous,inference.trigger_interval={interval}"],
                cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_until(self, condition: Callable[[], bool], what: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert self.process.poll() is None, f"stream exited before {what}:\n{self.output()}"
            assert time.monotonic() < deadline, f"timed out waiting for {what}:\n{self.output()}"
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL the whole process group at once, Spark's JVM and Python workers included, as
        when the machine under a job dies."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


@pytest.fixture
def continuous_stream(scoring):
    streams: list[ContinuousStream] = []

    def start(**kwargs) -> ContinuousStream:
        streams.append(ContinuousStream(scoring.project.workdir, **kwargs))
        return streams[-1]

    yield start
    for stream in streams:
        stream.kill()
