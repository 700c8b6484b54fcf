"""Drift test fixtures: gold rows written where the catalog reads them, and a champion registered
for real in the test project's SQLite registry (the deployment tests' contract model)."""

from __future__ import annotations

import mlflow
import pandas as pd
import pytest

from tests.pipelines.deployment.conftest import (  # noqa: F401
    migrated_registry,
    point_mlflow_at,
    use_registry,
)
from tests.pipelines.deployment.contract_model import register_version

GOLD = "data/04_feature/gold_trade_features"
SILVER = "data/03_primary/silver_trades"
LABELS = "data/02_intermediate/anomaly_labels"
DRIFT_METRICS = "data/08_reporting/drift_metrics"
TRIGGERS = "data/08_reporting/retraining_triggers"
MODEL = "anomaly_detector"


@pytest.fixture
def drift_project(project):
    """The test project (its registry has an absolute URI of its own, see ``ProjectRun``)."""
    return project


@pytest.fixture
def write_gold(spark, drift_project):
    """Append gold rows and their labels to the test project's Delta tables, and their arrival
    (silver's ``_ingested_at``: ``arrived`` or now) to silver, where the drift window reads it."""

    def write(gold: pd.DataFrame, labels: pd.DataFrame, arrived: str | None = None) -> None:
        at = pd.Timestamp(arrived) if arrived else pd.Timestamp.now(tz="UTC").tz_localize(None)
        silver = pd.DataFrame({"trade_id": gold["trade_id"], "_ingested_at": at})
        for frame, relative in ((gold, GOLD), (labels, LABELS), (silver, SILVER)):
            if frame.empty:  # trades without labels
                continue
            spark.createDataFrame(frame).write.format("delta").mode("append").save(
                str(drift_project.path(relative)))

    return write


@pytest.fixture
def make_champion(drift_project, migrated_registry):  # noqa: F811
    """Register a contract model fitted on the given gold rows as ``@champion`` in the registry
    the project's runs use."""

    def make(gold: pd.DataFrame, labels: pd.DataFrame, broken: bool = False) -> str:
        db = drift_project.path("data/mlflow.db")
        if db.exists():
            point_mlflow_at(db, drift_project.path("data/06_models/test_champions"))
        else:
            use_registry(migrated_registry, db, drift_project.path("data/06_models/test_champions"))
        version = register_version(MODEL, gold, labels, feature="f_strong", broken=broken).version
        mlflow.MlflowClient().set_registered_model_alias(MODEL, "champion", version)
        return str(version)

    return make
