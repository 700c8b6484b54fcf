"""Fixtures for the champion pipelines (deployment, validation, rollback) on a real local
SQLite registry. The contract-model factory itself is ``contract_model.py``, importable by
other test folders (``from tests.pipelines.deployment.contract_model import ...``); so are
``use_registry`` and ``migrated_registry`` here.
"""

from __future__ import annotations

import copy
import shutil
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import yaml

from financial_mlops.pipelines.deployment.nodes import recent_labelled_slice
from tests.pipelines.deployment.contract_model import synthetic_gold

REPO = Path(__file__).resolve().parents[3]
MODEL = "anomaly_detector"
GOLD = "data/04_feature/gold_trade_features"
LABELS = "data/02_intermediate/anomaly_labels"


def _params(name: str) -> dict:
    return yaml.safe_load((REPO / f"conf/base/parameters_{name}.yml").read_text())[name]


@pytest.fixture(scope="session")
def migrated_registry(tmp_path_factory) -> Path:
    """An empty MLflow SQLite database, migrated once per session (~10 s): tests copy it."""
    path = tmp_path_factory.mktemp("registry_template") / "mlflow.db"
    mlflow.MlflowClient(f"sqlite:///{path}").search_experiments()
    return path


def point_mlflow_at(db: Path, artifacts: Path) -> str:
    """Point MLflow's tracking and registry at the SQLite file ``db``, in an experiment whose
    artifacts go under ``artifacts``; returns the URI."""
    uri = f"sqlite:///{db}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    experiment = mlflow.get_experiment_by_name("tests")
    mlflow.set_experiment(experiment_id=experiment.experiment_id if experiment else
                          mlflow.create_experiment("tests", artifact_location=str(artifacts)))
    return uri


def use_registry(template: Path, db: Path, artifacts: Path) -> str:
    """A fresh registry at ``db`` (a copy of the migrated ``template``), made current."""
    shutil.copy(template, db)
    return point_mlflow_at(db, artifacts)


@pytest.fixture
def registry(tmp_path, migrated_registry) -> Iterator[str]:
    """A private registry for one test; yields its URI."""
    previous = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    yield use_registry(migrated_registry, tmp_path / "mlflow.db", tmp_path / "artifacts")
    while mlflow.active_run():
        mlflow.end_run()
    mlflow.set_tracking_uri(previous[0])
    mlflow.set_registry_uri(previous[1])


@pytest.fixture(scope="session")
def gold_and_labels():
    return synthetic_gold()


@pytest.fixture
def params() -> dict:
    """The three pipelines' parameters for small test data: fewer bootstrap resamples, floors
    the medium model clears, a validation over all test rows."""
    deployment, validation = _params("deployment"), _params("validation")
    deployment.update(registered_model_name=MODEL, slice_rows=3000)
    deployment["bootstrap"]["resamples"] = 200
    deployment["floors"] = {"pr_auc": 0.3, "f1": 0.3, "precision": 0.2, "recall": 0.2}
    validation.update(registered_model_name=MODEL, rows=500)
    rollback = {**_params("rollback"), "registered_model_name": MODEL}
    return copy.deepcopy({"deployment": deployment, "validation": validation,
                          "rollback": rollback})


@pytest.fixture(scope="session")
def scoring_slice(spark, gold_and_labels) -> pd.DataFrame:
    """The recent labelled slice the deployment takes from the synthetic gold (a real node on
    real Spark frames)."""
    gold, labels = gold_and_labels
    return recent_labelled_slice(spark.createDataFrame(gold), spark.createDataFrame(labels),
                                 {"slice_rows": 3000})


def write_gold_tables(spark, project, gold: pd.DataFrame, labels: pd.DataFrame) -> None:
    """Gold rows and labels as the Delta tables a project run reads (data/04_feature,
    data/02_intermediate)."""
    for frame, table in ((gold, GOLD), (labels, LABELS)):
        spark.createDataFrame(frame).write.format("delta").mode("overwrite").save(
            str(project.path(table)))


def delete_model_files(name: str, version: str) -> None:
    """Simulate lost model storage: remove a version's registered model files."""
    shutil.rmtree(mlflow.MlflowClient().get_model_version_download_uri(name, version))
