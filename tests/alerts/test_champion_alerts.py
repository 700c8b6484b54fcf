"""Champion events: a decision on a real SQLite registry announced through the sink to a real
HTTP receiver, once; rollbacks and failed validations as events; alert nodes run before the
node that fails the run."""

from __future__ import annotations

import pytest
from kedro.framework.startup import bootstrap_project

from financial_mlops.alerts import AlertDataset
from financial_mlops.alerts.events import deployment_events, rollback_events, validation_events
from financial_mlops.errors import UserError
from tests.conftest import REPO
from tests.pipelines.deployment.conftest import MODEL
from tests.pipelines.deployment.contract_model import register_version
from tests.pipelines.deployment.stages import apply_promotion, decide_promotion


def test_a_rejected_challenger_sends_one_rejection_with_its_reasons(
        receiver, registry, gold_and_labels, scoring_slice, params, alerts_params, tmp_path):
    sink = AlertDataset(ledger={"path": str(tmp_path / "alerts_sent")},
                        credentials={"url": receiver.url})
    version = str(register_version(MODEL, *gold_and_labels, feature="f_strong",
                                   metrics={"train_val_gap": 0.4}).version)
    decision = decide_promotion(scoring_slice, params["deployment"])
    change = apply_promotion(decision, scoring_slice, params["validation"])
    sink.save(deployment_events(decision, change, alerts_params))
    sink.save(deployment_events(decision, change, alerts_params))  # a retried task

    [rejection] = receiver.events()
    assert rejection["kind"] == "rejection" and rejection["severity"] == "warning"
    assert rejection["details"] == {"model": MODEL, "challenger": version, "champion": None,
                                    "reasons": ["train_val_gap = 0.4 (needs <= 0.1): FAILED"]}
    assert rejection["title"] == f"{MODEL} v{version} rejected; champion stays none"
    assert "- train_val_gap = 0.4 (needs <= 0.1): FAILED" in rejection["text"]


def _rolled_back(at: str) -> dict:
    return {"model": MODEL, "status": "rolled_back", "at": at,
            "before": {"champion": "2", "previous_champion": "1"},
            "target": {"champion": "1", "previous_champion": "2"}}


def test_rollbacks_and_failed_validations_are_events_filtered_by_severity(alerts_params):
    [first] = rollback_events(_rolled_back("2026-01-01T10:00:00+00:00"), alerts_params)["events"]
    [again] = rollback_events(_rolled_back("2026-01-01T10:00:00+00:00"), alerts_params)["events"]
    [later] = rollback_events(_rolled_back("2026-01-02T10:00:00+00:00"), alerts_params)["events"]
    assert first["title"] == f"{MODEL} rolled back from v2 to v1"
    assert first["id"] == again["id"] != later["id"]  # the same rollback, then another one

    report = {"model": MODEL, "passed": False, "champion_version": "2", "expected_version": "2",
              "reasons": ["champion_outputs: 500 non-finite scores: FAILED"]}
    critical_only = {**alerts_params, "min_severity": "critical"}
    [failed] = validation_events(report, critical_only)["events"]
    assert failed["kind"] == "validation_failed" and failed["lines"] == report["reasons"]
    assert validation_events({**report, "passed": True}, alerts_params)["events"] == []
    assert rollback_events(_rolled_back("2026-01-01"), critical_only)["events"] == []
    with pytest.raises(UserError, match="alerts.min_severity 'loud' is not one of info"):
        validation_events(report, {**alerts_params, "min_severity": "loud"})
    with pytest.raises(UserError, match="alerts.delivery.format 'teams' is not one of generic"):
        validation_events(report, {**alerts_params, "delivery": {"format": "teams"}})


def test_an_alert_node_runs_before_the_node_that_fails_the_run():
    bootstrap_project(REPO)
    from financial_mlops.pipeline_registry import register_pipelines

    pipelines = register_pipelines()
    for name, alert, fail in (("retraining", "alert_on_deployment", "fail_on_deployment_error"),
                              ("retraining", "alert_on_validation", "fail_on_invalid_champion"),
                              ("rollback", "alert_on_rollback", "fail_on_rollback_error")):
        order = [node.name for node in pipelines[name].nodes]
        assert order.index(alert) < order.index(fail), (name, alert)
