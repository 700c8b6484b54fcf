"""The drift pipeline run for real (Delta, SQLite registry, kedro-mlflow) on a registered
contract champion: what it records, reports and logs, and its one-line errors."""

from __future__ import annotations

import mlflow
import pandas as pd
import pytest
from matplotlib.image import imread

from financial_mlops.errors import UserError
from tests.pipelines.deployment.contract_model import synthetic_gold
from tests.pipelines.drift.conftest import DRIFT_METRICS, TRIGGERS

PARAMS = {"drift": {"window": {"by": "rows", "rows": 2000}, "min_window_rows": 500}}


def _drift_run() -> mlflow.entities.Run:
    experiment = mlflow.get_experiment_by_name("financial_mlops")
    return mlflow.search_runs([experiment.experiment_id], output_format="list",
                              order_by=["start_time DESC"])[0]


def test_a_stable_window_is_recorded_reported_and_needs_no_retraining(
        project, write_gold, make_champion, read_delta):
    version = make_champion(*synthetic_gold(4000, seed=0))
    write_gold(*synthetic_gold(3000, seed=1, start="2026-01-06 14:30"))
    project.run("drift", params=PARAMS)

    metrics = read_delta(project.path(DRIFT_METRICS)).toPandas()
    assert sorted(metrics.feature) == ["f_medium", "f_noise", "f_strong", "score"]
    assert set(metrics.verdict) == set(metrics.check_verdict) == {"ok"}
    assert (metrics.psi < 0.1).all() and (metrics.ks < 0.1).all()
    check = metrics.iloc[0]
    assert metrics.check_id.nunique() == 1
    assert (check.champion_version, check.window_rows) == (version, 2000)
    # The latest 2000 of the 3000 fresh trades, one a second.
    assert check.window_end == pd.Timestamp("2026-01-06 14:30") + pd.Timedelta(seconds=2999)
    assert check.window_end - check.window_start == pd.Timedelta(seconds=1999)

    triggers = read_delta(project.path(TRIGGERS)).toPandas()
    assert list(triggers.action) == ["not_needed"]
    assert triggers.check_id[0] == check.check_id

    run = _drift_run()
    assert run.data.metrics["drift.alert"] == 0
    assert run.data.metrics["drift.psi.f_strong"] == pytest.approx(
        metrics.set_index("feature").psi["f_strong"])
    assert 0.5 < run.data.metrics["drift.recent_pr_auc"] <= 1
    logged = {a.path for a in mlflow.MlflowClient().list_artifacts(run.info.run_id, "drift")}
    assert logged == {"drift/drift_report.png", "drift/drift_summary.md"}
    png = imread(project.path("data/08_reporting/drift/drift_report.png"))
    assert png.shape[0] >= 500 and png.shape[1] >= 1400
    summary = project.path("data/08_reporting/drift/drift_summary.md").read_text()
    assert f"anomaly_detector v{version}" in summary and "| f_strong |" in summary


def test_a_time_window_takes_the_minutes_before_the_newest_trade(
        project, write_gold, make_champion, read_delta):
    make_champion(*synthetic_gold(4000, seed=0))
    write_gold(*synthetic_gold(3000, seed=1, start="2026-01-06 14:30"))
    project.run("drift", params={"drift": {"window": {"by": "time", "minutes": 10},
                                           "min_window_rows": 500}})
    assert set(read_delta(project.path(DRIFT_METRICS)).toPandas().window_rows) == {600}


def test_drift_needs_a_working_champion_and_enough_rows(project, write_gold, make_champion):
    write_gold(*synthetic_gold(1000, seed=1))
    with pytest.raises(UserError, match="no @champion model"):
        project.run("drift", params=PARAMS)
    make_champion(*synthetic_gold(4000, seed=0))
    with pytest.raises(UserError, match="window has 1000 gold rows, fewer than "
                                        "drift.min_window_rows=2000"):
        project.run("drift", params={"drift": {"min_window_rows": 2000}})
    with pytest.raises(UserError, match="drift.window.by is 'days': use rows or time"):
        project.run("drift", params={"drift": {"window": {"by": "days"}}})
    version = make_champion(*synthetic_gold(4000, seed=0), broken=True)
    with pytest.raises(UserError, match=f"champion anomaly_detector v{version} returned 1000 "
                                        "non-finite scores"):
        project.run("drift", params=PARAMS)


def test_in_the_whole_flow_the_check_waits_for_the_champion_the_retraining_decided_on(project):
    from financial_mlops.pipeline_registry import register_pipelines

    flow = [node.name for node in register_pipelines()["__default__"].nodes]
    # A data edge since the registry is a dataset: the check reads the champion the
    # deployment's move saved (deployed_champion), no longer a placeholder on validation.
    assert flow.index("check_drift") > flow.index("apply_promotion")
    alone = register_pipelines()["drift"]
    assert {name for node in alone.nodes for name in node.inputs} >= {"drift_champion"}
    assert "validation_report" not in alone.inputs()
