"""The flagged-trades digest (the ``alerts`` pipeline) run for real against a real HTTP receiver:
counts by symbol and kind and the top trades; a receiver answering 500 is retried, the failure
logged and the run succeeds; a rerun over the same scores delivers what was owed, and only
that (the log sink, already served, is not repeated)."""

from __future__ import annotations

import base64
import logging
import shutil
from types import SimpleNamespace

import databricks.sdk
import pandas as pd

from financial_mlops.alerts import AlertDataset
from financial_mlops.alerts.events import make_event
from tests.alerts.conftest import DELIVERY

SCORES = "data/07_model_output/anomaly_scores"
LABELS = "data/02_intermediate/anomaly_labels"
LEDGER = "data/08_reporting/alerts_sent"
DIGEST_WATERMARK = "data/08_reporting/_state/flagged_trades_digest_watermark.json"
PARAMS = {"alerts": {"delivery": DELIVERY, "digest": {"top_n": 2}}}


def _write_scores(spark, project) -> None:
    now = pd.Timestamp.now(tz="UTC").tz_localize(None)
    scores = pd.DataFrame({
        "trade_id": [f"t{i}" for i in range(6)],
        "symbol": ["AAPL", "AAPL", "MSFT", "MSFT", "AAPL", "BRK.B"],
        "event_time": now, "score": [0.9, 0.2, 0.95, 0.8, 0.7, 0.99],
        "is_anomaly": [1, 0, 1, 1, 1, 1], "model_version": "1", "scored_at": now})
    labels = pd.DataFrame({"trade_id": ["t0", "t2", "t3"], "is_anomaly": [1, 1, 1],
                           "anomaly_type": ["price_spike", "price_spike", "volume_burst"]})
    for frame, relative in ((scores, SCORES), (labels, LABELS)):
        spark.createDataFrame(frame).write.format("delta").save(str(project.path(relative)))


def test_a_refused_digest_is_retried_logged_and_delivered_once_by_a_rerun(
        project, webhook, spark, migrated_registry, read_delta, caplog):
    shutil.copy(migrated_registry, project.path("data/mlflow.db"))  # no migration per run
    _write_scores(spark, project)
    webhook.status = 500

    with caplog.at_level(logging.ERROR, logger="financial_mlops.alerts.sink"):
        project.run("alerts", params=PARAMS)  # the run succeeds

    attempts = DELIVERY["retries"] + 1
    assert len(webhook.requests) == attempts
    [failure] = [r.getMessage() for r in caplog.records if "not sent to webhook" in r.getMessage()]
    assert "500" in failure and "flagged_trades_digest-" in failure
    assert list(read_delta(project.path(LEDGER)).toPandas().sink) == ["log"]  # webhook owed

    webhook.status = 200
    project.path(DIGEST_WATERMARK).unlink()  # the same scores again
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="financial_mlops.alerts.sink"):
        project.run("alerts", params=PARAMS)
    assert any("already sent to log" in r.getMessage() for r in caplog.records)
    digest = webhook.requests[-1]["json"]
    assert len(webhook.requests) == attempts + 1
    assert digest["kind"] == "flagged_trades_digest" and digest["details"]["flagged"] == 5
    assert digest["details"]["counts"] == [
        {"symbol": "AAPL", "kind": "price_spike", "count": 1},
        {"symbol": "AAPL", "kind": "unlabelled", "count": 1},
        {"symbol": "BRK.B", "kind": "unlabelled", "count": 1},
        {"symbol": "MSFT", "kind": "price_spike", "count": 1},
        {"symbol": "MSFT", "kind": "volume_burst", "count": 1}]
    assert [t["trade_id"] for t in digest["details"]["top"]] == ["t5", "t2"]
    assert sorted(read_delta(project.path(LEDGER)).toPandas().sink) == ["log", "webhook"]


def test_slack_format_posts_only_text_and_a_filtered_severity_is_not_sent(
        receiver, tmp_path, spark):
    sink = AlertDataset(ledger={"path": str(tmp_path / "ledger")},
                        credentials={"url": receiver.url})
    event = make_event("rejection", "warning", ("m", "2", "1"), "m v2 rejected",
                       ["train_val_gap = 0.4 (needs <= 0.1): FAILED"], {})
    sink.save({"events": [event], "delivery": {**DELIVERY, "log": False, "webhook": True,
                                               "format": "slack"}})
    [request] = receiver.requests
    assert request["json"] == {"text": "[WARNING] m v2 rejected\n"
                                       "- train_val_gap = 0.4 (needs <= 0.1): FAILED"}
    assert "Authorization" not in request["headers"]  # no token configured


def test_on_databricks_the_webhook_comes_from_the_secret_scope(receiver, tmp_path, monkeypatch):
    asked = []

    class Secrets:  # the one workspace call, thinly: secrets.get_secret returns base64
        def get_secret(self, scope, key):
            asked.append((scope, key))
            value = receiver.url if key == "alerts_webhook_url" else "from-the-scope"
            return SimpleNamespace(value=base64.b64encode(value.encode()).decode())

    monkeypatch.setattr(databricks.sdk, "WorkspaceClient", lambda: SimpleNamespace(
        secrets=Secrets()))
    sink = AlertDataset(ledger={"path": str(tmp_path / "ledger")},
                        credentials={"url": None, "token": None},
                        databricks_secret_scope="financial_mlops")
    event = make_event("promotion", "info", ("m", "3", "2"), "m v3 promoted to champion", [], {})
    sink.save({"events": [event], "delivery": {**DELIVERY, "log": False, "webhook": True,
                                               "format": "generic"}})
    [request] = receiver.requests
    assert request["json"]["id"] == event["id"]
    assert request["headers"]["Authorization"] == "Bearer from-the-scope"
    assert asked == [("financial_mlops", "alerts_webhook_url"),
                     ("financial_mlops", "alerts_webhook_token")]


def test_a_ledger_that_cannot_be_written_is_logged_and_the_save_succeeds(
        receiver, tmp_path, caplog):
    blocked = tmp_path / "alerts_sent"
    blocked.write_text("a file where the ledger table should be")
    sink = AlertDataset(ledger={"path": str(blocked)}, credentials={"url": receiver.url})
    event = make_event("rollback", "warning", ("m", "2", "1", "t"), "m rolled back", [], {})
    with caplog.at_level(logging.ERROR, logger="financial_mlops.alerts.sink"):
        sink.save({"events": [event], "delivery": {**DELIVERY, "log": False, "webhook": True,
                                                   "format": "generic"}})
    assert len(receiver.requests) == 1
    assert any("not updated" in r.getMessage() and event["id"] in r.getMessage()
               for r in caplog.records)
