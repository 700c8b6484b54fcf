"""The champion's life through real Kedro runs of the deployment, validation and rollback
pipelines (KedroSession, kedro-mlflow, Delta gold, the SQLite registry of conf/base)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kedro.config import OmegaConfigLoader
from kedro.framework.project import pipelines
from kedro.framework.startup import bootstrap_project
from mlflow import MlflowClient

from financial_mlops import settings
from financial_mlops.errors import UserError
from financial_mlops.pipelines import retraining
from financial_mlops.promotion.aliases import read_aliases
from tests.pipelines.deployment.conftest import (
    MODEL,
    point_mlflow_at,
    use_registry,
    write_gold_tables,
)
from tests.pipelines.deployment.contract_model import register_version

REPO = Path(__file__).resolve().parents[3]
SMALL = {
    "deployment": {"slice_rows": 3000, "bootstrap": {"resamples": 200},
                   "floors": {"pr_auc": 0.3, "f1": 0.3, "precision": 0.2, "recall": 0.2}},
    "validation": {"rows": 500},
}


def latest_record(project, relative: str) -> dict:
    """The newest version of a versioned JSON record the catalog saved."""
    folder = project.path(relative)
    return json.loads(max(folder.iterdir()).joinpath(folder.name).read_text())


@pytest.mark.slow
def test_promote_reject_promote_roll_back_and_roll_forward(project, spark, migrated_registry,
                                                           gold_and_labels):
    gold, labels = gold_and_labels
    write_gold_tables(spark, project, gold, labels)
    db, artifacts = project.path("data/mlflow.db"), project.path("data/06_models/test_versions")
    use_registry(migrated_registry, db, artifacts)

    def register(feature: str) -> str:
        point_mlflow_at(db, artifacts)  # a Kedro run leaves MLflow pointed elsewhere
        return str(register_version(MODEL, gold, labels, feature=feature).version)

    def run(pipeline: str, **params) -> dict:
        project.run(pipeline, params={**SMALL, **params})
        point_mlflow_at(db, artifacts)
        return read_aliases(MlflowClient(), MODEL).as_dict()

    decision = "data/08_reporting/deployment/promotion_decision.json"
    v1 = register("f_medium")
    assert run("deployment") == {"champion": v1, "previous_champion": None}
    assert latest_record(project, decision)["status"] == "promote"

    v2 = register("f_noise")  # deliberately worse
    assert run("deployment") == {"champion": v1, "previous_champion": None}
    rejected = latest_record(project, decision)
    assert (rejected["status"], rejected["challenger_version"]) == ("reject", v2)
    assert "pr_auc_improvement" in {c["name"] for c in rejected["checks"] if not c["passed"]}
    run_record = MlflowClient().get_run(rejected["decision_run_id"])
    assert run_record.data.tags["decision"] == "reject"
    assert "mlflow.parentRunId" in run_record.data.tags  # nested in kedro-mlflow's run

    v3 = register("f_strong")
    assert run("deployment") == {"champion": v3, "previous_champion": v1}
    assert latest_record(project, "data/08_reporting/deployment/champion_change.json")[
        "status"] == "promoted"

    assert run("validation") == {"champion": v3, "previous_champion": v1}
    assert latest_record(project, "data/08_reporting/validation/validation_report.json")["passed"]

    assert run("rollback") == {"champion": v1, "previous_champion": v3}
    assert run("rollback", rollback={"to_version": int(v2)}) == {"champion": v2,
                                                                 "previous_champion": v1}
    assert latest_record(project, "data/08_reporting/rollback/rollback_record.json")[
        "status"] == "rolled_back"
    with pytest.raises(UserError, match="^rollback target version 9 of anomaly_detector does "):
        run("rollback", rollback={"to_version": 9})
    assert len(MlflowClient().search_model_versions(f"name = '{MODEL}'")) == 3


def test_retraining_decides_after_the_tournament_and_validates_after_the_decision():
    order = [node.name for node in retraining.create_pipeline().nodes]
    assert (order.index("register_winner") < order.index("decide_promotion")
            < order.index("apply_promotion") < order.index("validate_current_champion"))


def test_the_default_flow_decides_after_the_tournament():
    bootstrap_project(REPO)
    order = [node.name for node in pipelines["__default__"].nodes]
    assert order.index("register_winner") < order.index("decide_promotion")


@pytest.mark.parametrize("env", ["dev", "acc", "prd"])
def test_databricks_envs_keep_records_in_the_volume_and_name_the_unity_catalog_model(env):
    config = OmegaConfigLoader(str(REPO / "conf"), env=env, **{
        k: v for k, v in settings.CONFIG_LOADER_ARGS.items() if k != "default_run_env"})
    volume = f"/Volumes/mlops_{env}/financial_transactions/streaming_landing/_reports/"
    for record in ("promotion_decision", "champion_change", "validation_report",
                   "rollback_record"):
        assert config["catalog"][record]["filepath"].startswith(volume)
    for pipeline in ("deployment", "validation", "rollback"):
        assert config["parameters"][pipeline]["registered_model_name"] == (
            f"mlops_{env}.financial_transactions.anomaly_detector")
