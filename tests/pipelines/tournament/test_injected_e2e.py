"""A market the simulator did not make, without labels, from a file drop to a promoted champion:
``ingestion.source=files`` -> features -> ``tournament.labels=injected`` -> a plain deployment,
which judges the winner on held-out trades of that market with anomalies injected by another
seed than training's. No injected print reaches a table."""

from __future__ import annotations

import json

import mlflow
import pandas as pd
import pytest
import yaml
from mlflow import MlflowClient

from financial_mlops.datasets.registry import Challenger
from financial_mlops.modeling.candidates import MaxAbsZScore
from financial_mlops.modeling.metrics import pr_auc
from financial_mlops.pipelines.deployment.nodes import scoring_slice
from financial_mlops.promotion.challenger import run_items
from financial_mlops.sources.simulator.other_market import other_market
from tests.pipelines.features.conftest import load_features_params
from tests.pipelines.tournament.conftest import PARAMS as TOURNAMENT_DEFAULTS

MODEL = "anomaly_detector"
TRADES = 6_000
DROP = "data/01_raw/source_files"
TABLES = {"bronze": "data/02_intermediate/bronze_trades", "silver": "data/03_primary/silver_trades",
          "gold": "data/04_feature/gold_trade_features"}
LABELS = "data/02_intermediate/anomaly_labels"
SCORES = "data/07_model_output/anomaly_scores"
TRAINING_SEED = 7
TOURNAMENT = {"tournament": {
    "labels": "injected", "injected": {"seed": TRAINING_SEED, "rate": 0.03},
    "ood": {"trades": 0}, "min_positives": 5, "stability_batches": 3,
    "pruner": {"n_startup_trials": 1, "n_warmup_steps": 5},
    "candidates": {
        "xgboost": {"n_trials": 2, "timeout_seconds": 120, "fixed": {"n_estimators": 60}},
        **{name: {"enabled": False} for name in
           ("hist_gradient_boosting", "logistic_regression", "isolation_forest")},
    },
}}
# A few thousand trades make noisy slices: the stability limits are loosened, nothing else.
DEPLOYMENT = {"deployment": {"bootstrap": {"resamples": 200}, "stability": {
    "max_train_val_gap": 0.2, "max_batch_pr_auc_spread": 0.2}}, "validation": {"rows": 500}}


def drop_json_lines(project, trades: pd.DataFrame) -> None:
    """The trades as a user's export: JSON lines with ISO timestamps, in the drop folder."""
    folder = project.path(DROP)
    folder.mkdir(parents=True)
    records = trades.assign(timestamp=trades.pop("event_time").dt.strftime(
        "%Y-%m-%dT%H:%M:%S.%f").str[:-3] + "Z")
    (folder / "market.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in records.to_dict("records")), encoding="utf-8")


@pytest.mark.slow
def test_a_model_trained_on_injected_anomalies_of_the_users_market_is_promoted_on_it(
        project, read_delta):
    market = other_market(TRADES, seed=21)
    drop_json_lines(project, market.copy())
    project.run(["ingestion", "features"], params={"ingestion": {"source": "files"}})
    project.run("tournament", params=TOURNAMENT)
    project.run("deployment", params=DEPLOYMENT)  # no mode given: read from the challenger's run

    [decision_file] = project.path("data/08_reporting/deployment/promotion_decision.json").glob(
        "*/promotion_decision.json")
    decision = json.loads(decision_file.read_text())
    judged = decision["slice"]
    assert decision["status"] == "promote", decision["reasons"]
    mlflow.set_tracking_uri(project.mlflow_uri)
    mlflow.set_registry_uri(project.mlflow_uri)
    client = MlflowClient()
    version = client.get_model_version_by_alias(MODEL, "champion")
    assert str(version.version) == "1"
    tags = client.get_run(version.run_id).data.tags
    assert tags["labels_mode"] == "injected" and tags["injection_seed"] == str(TRAINING_SEED)
    assert tags["delta_version.silver_trades_existing"].isdigit()
    assert judged["labels_mode"] == "injected" and judged["since"] == tags["test_start"]
    assert judged["training_seed"] == TRAINING_SEED != judged["seed"]
    assert {c["name"]: c["passed"] for c in decision["checks"]}["run_completeness"]

    # The judgement is reproducible from the run's tags: the same rows, the same PR-AUC; on
    # them the champion beats the rule by a wide margin.
    challenger = Challenger(MODEL, str(version.version), run_items(client, version))
    rows = scoring_slice(None, None, read_delta(project.path(TABLES["silver"])), challenger,
                         project_params(project, "deployment"), load_features_params())
    assert rows["is_anomaly"].sum() == judged["anomalies"] >= 20
    features = json.loads(tags["feature_list"])
    scores = mlflow.pyfunc.load_model(f"models:/{MODEL}@champion").predict(rows[features])
    champion = pr_auc(rows["is_anomaly"].to_numpy(), scores["score"].to_numpy())
    assert champion == pytest.approx(decision["challenger"]["pr_auc"])
    columns = TOURNAMENT_DEFAULTS["candidates"]["rule_baseline"]["fixed"]["columns"]
    rule = MaxAbsZScore(columns).fit(rows[features])
    rule_pr_auc = pr_auc(rows["is_anomaly"].to_numpy(), -rule.score_samples(rows[features]))
    assert champion >= rule_pr_auc + 0.20, (champion, rule_pr_auc)

    # Injected prints lived in memory only: the tables hold exactly the dropped trades.
    for table, path in TABLES.items():
        ids = {r.trade_id for r in read_delta(project.path(path)).select("trade_id").collect()}
        assert ids == set(market["trade_id"]), table
    assert read_delta(project.path(LABELS)).count() == 0
    assert not project.path(SCORES).exists()




def project_params(project, name: str) -> dict:
    """The project's ``name`` parameters as the files hold them (what the rows need is plain)."""
    return yaml.safe_load((project.conf / "base" / f"parameters_{name}.yml").read_text())[name]
