"""Drift alerts from a real drift run (Delta, SQLite registry, kedro-mlflow) to a real HTTP
receiver: one alert per regime shift, and nothing again when the same check runs again."""

from __future__ import annotations

import pandas as pd
import yaml

from tests.alerts.conftest import DELIVERY, TOKEN
from tests.pipelines.deployment.contract_model import FEATURES, synthetic_gold

PARAMS = {"drift": {"window": {"max_rows": 20000}, "min_window_rows": 500,
                    "segments": {"min_rows": 500}},
          "alerts": {"delivery": DELIVERY}}
NO_RETRAINING = {"retraining_job": {"type": "MemoryDataset"},
                 "retraining_job_status": {"type": "MemoryDataset", "data": {"active_runs": []}}}
WATERMARK = "data/08_reporting/_state/drift_watermark.json"


def _quiet_retraining(project) -> None:
    """The retraining request kept in memory: these tests check what is announced."""
    (project.conf / "local" / "catalog_no_retraining.yml").write_text(
        yaml.safe_dump(NO_RETRAINING))


def _shifted(gold: pd.DataFrame, sigma: float) -> pd.DataFrame:
    return gold.assign(**{name: gold[name] + sigma for name in FEATURES})


def test_a_regime_shift_sends_one_drift_alert_and_rerunning_the_check_sends_nothing_new(
        project, webhook, write_gold, make_champion):
    _quiet_retraining(project)
    version = make_champion(*synthetic_gold(4000, seed=0))
    gold, labels = synthetic_gold(2000, seed=2, start="2026-01-07 14:30")
    write_gold(_shifted(gold, 2.0), labels)
    project.run("drift", params=PARAMS)

    [alert] = webhook.events("drift_alert")
    assert alert["severity"] == "warning"
    assert alert["title"] == f"Drift alert on anomaly_detector v{version}"
    top = [feature["feature"] for feature in alert["details"]["top_features"]]
    assert sorted(top) == ["f_medium", "f_noise", "f_strong", "score"]  # 4 < drift_top_features
    assert alert["details"]["top_features"][0]["verdict"] == "alert"
    assert alert["details"]["report"]["mlflow_artifacts"] == ["drift/drift_summary.md",
                                                             "drift/drift_report.png"]
    assert alert["run"]["run_id"]  # the drift run holding the report
    assert "Top drifting features: " in alert["text"]
    [retraining] = webhook.events("retraining_triggered")
    assert retraining["details"]["action"] == "triggered"
    assert {r["headers"]["Authorization"] for r in webhook.requests} == {f"Bearer {TOKEN}"}
    assert len(webhook.requests) == 2

    # The same check again (a task retry): same window, same ids, nothing new is sent; the
    # retraining it now skips (cooldown) is the same decision event.
    project.path(WATERMARK).unlink()
    project.run("drift", params=PARAMS)
    assert len(webhook.requests) == 2
