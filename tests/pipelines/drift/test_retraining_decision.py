"""The retraining decision: trigger on an alert, skip while one runs or within the cooldown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from financial_mlops.pipelines.drift.nodes import decide_retraining

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
PARAMS = {"retraining": {"cooldown_hours": 6}}
SCHEMA = ("check_id STRING, decided_at TIMESTAMP, champion_version STRING, "
          "drift_verdict STRING, action STRING, reason STRING")


@pytest.fixture
def history(spark):
    def make(*earlier: tuple[str, timedelta]):
        rows = [(f"c{i}", NOW - ago, "1", "alert", action, "")
                for i, (action, ago) in enumerate(earlier)]
        return spark.createDataFrame(rows, SCHEMA)

    return make


def _decide(history, verdict="alert", active_runs=()):
    outcome = {"check_id": "now", "checked_at": NOW, "champion_version": "3",
               "verdict": verdict, "reason": "2 feature(s) alert",
               "watermark": {"arrived_at_micros": 7}}
    record, watermark, request = decide_retraining(
        outcome, history, {"active_runs": list(active_runs)}, PARAMS)
    assert record.loc[0, "check_id"] == "now"
    assert watermark == {"arrived_at_micros": 7}  # whatever the decision, the check is done
    assert request["launch"] == (record.loc[0, "action"] == "triggered")
    return record.loc[0, "action"], record.loc[0, "reason"], request


def test_an_alert_triggers_retraining_bounded_by_the_cooldown(history):
    action, reason, request = _decide(history())
    assert action == "triggered"
    assert "2 feature(s) alert" in reason
    assert request == {"launch": True, "check_id": "now", "reason": reason,
                       "timeout_seconds": 6 * 3600}


@pytest.mark.parametrize("verdict", ["ok", "warn", "nothing_new"])
def test_no_alert_needs_no_retraining(history, verdict):
    action, reason, _ = _decide(history(), verdict=verdict)
    assert (action, reason.split(":")[0]) == ("not_needed", f"drift {verdict}")


def test_a_recent_trigger_makes_an_alert_a_skip(history):
    action, reason, _ = _decide(history(("triggered", timedelta(hours=5, minutes=59))))
    assert action == "skipped"
    assert "cooldown" in reason and "2026-03-02 06:01:00 UTC" in reason


def test_only_triggers_start_the_cooldown(history):
    earlier = history(("triggered", timedelta(hours=6)), ("skipped", timedelta(minutes=30)),
                      ("not_needed", timedelta(minutes=1)))
    assert _decide(earlier)[0] == "triggered"


def test_a_running_retraining_makes_an_alert_a_skip(history):
    action, reason, _ = _decide(history(("triggered", timedelta(days=2))), active_runs=[912])
    assert action == "skipped"
    assert "[912] still running" in reason
