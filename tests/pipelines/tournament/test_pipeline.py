"""The tournament pipeline run through Kedro and kedro-mlflow on real Delta tables: what it
leaves in MLflow is the registered-model contract the deployment, inference and drift read."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from financial_mlops.errors import UserError
from tests.pipelines.tournament.conftest import REPO, tiny_budget

GOLD = "data/04_feature/gold_trade_features"
LABELS = "data/02_intermediate/anomaly_labels"
CANDIDATE_METRICS = ["val_pr_auc", "test_pr_auc", "test_f1", "test_precision", "test_recall",
                     "test_roc_auc", "train_val_gap", "batch_pr_auc_spread", "fit_seconds",
                     "scoring_rows_per_second"]


@pytest.fixture
def tables(project, spark):
    """Writes gold and labels as Delta tables of the project (labels get a second version)."""

    def write(gold, labels):
        spark.createDataFrame(gold).write.format("delta").save(str(project.path(GOLD)))
        for half in (labels.iloc[::2], labels.iloc[1::2]):
            spark.createDataFrame(half).write.format("delta").mode("append").save(
                str(project.path(LABELS)))

    return write


def _client(project) -> MlflowClient:
    """A client on the project's MLflow, also made the default (the registry loads models)."""
    mlflow.set_tracking_uri(project.mlflow_uri)
    mlflow.set_registry_uri(project.mlflow_uri)
    return MlflowClient()


@pytest.mark.slow
def test_the_winner_is_registered_with_everything_the_contract_names(
        project, tables, gold_and_labels):
    gold, labels = gold_and_labels
    tables(gold, labels)
    project.run("tournament", params={"tournament": tiny_budget()})

    client = _client(project)
    [version] = client.search_model_versions("name='anomaly_detector'")
    run = client.get_run(version.run_id)
    params, metrics, tags = run.data.params, run.data.metrics, run.data.tags
    assert set(CANDIDATE_METRICS) <= set(metrics)
    assert params["candidate"] == tags["candidate"] != "rule_baseline"
    features = json.loads(tags["feature_list"])
    assert features == ["f_abs_price_z_20", "f_log_volume_z_20", "f_venue_gap", "f_noise"]
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True)
    assert tags["git_sha"] == head.stdout.strip()
    assert tags["delta_version.gold_trade_features"] == "0"
    assert tags["delta_version.anomaly_labels"] == "1"
    assert tags["data_window"] == "2026-01-05T14:30:00/2026-01-05T15:19:59"
    assert 0 < float(tags["threshold"]) < 1

    profile_file = client.download_artifacts(run.info.run_id, "reference_profile.json",
                                             str(project.path(".")))
    profile = json.loads(Path(profile_file).read_text())
    assert list(profile["features"]) == features and profile["score"]["n"] == 1800
    # The training rows' symbols, for drift's symbols-never-trained-on check.
    assert set(profile["symbols"]) == {"AAPL", "MSFT"} and sum(profile["symbols"].values()) == 1800

    model = mlflow.pyfunc.load_model(f"models:/anomaly_detector/{version.version}")
    scored = model.predict(gold)
    assert list(scored.columns) == ["score", "is_anomaly"] and len(scored) == len(gold)
    assert (scored["is_anomaly"] == (scored["score"] >= float(tags["threshold"]))).all()

    parent = client.get_run(tags["mlflow.parentRunId"])
    children = client.search_runs([run.info.experiment_id],
                                  f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    assert sorted(c.data.tags["candidate"] for c in children) == sorted(
        tiny_budget()["candidates"])
    baseline = next(c for c in children if c.data.tags["candidate"] == "rule_baseline")
    assert parent.data.tags["winner"] == params["candidate"]
    assert parent.data.metrics["test_pr_auc"] == metrics["test_pr_auc"]
    assert parent.data.metrics["baseline_test_pr_auc"] == baseline.data.metrics["test_pr_auc"]
    reports = {"leaderboard.csv", "leaderboard.png", "pr_curves.png", "winner.json"}
    assert reports <= {a.path for a in client.list_artifacts(parent.info.run_id)}


@pytest.mark.slow
def test_bad_input_stops_the_run_with_its_error_and_registers_nothing(
        project, tables, gold_and_labels):
    gold, labels = gold_and_labels
    tables(gold, labels.assign(is_anomaly=0))
    with pytest.raises(UserError, match="tournament needs both classes"):
        project.run("tournament", params={"tournament": tiny_budget()})
    client = _client(project)
    assert client.search_registered_models() == []
    [parent] = client.search_runs([client.get_experiment_by_name("financial_mlops").experiment_id])
    assert parent.info.status == "FAILED"
