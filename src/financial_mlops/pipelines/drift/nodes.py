"""Drift nodes: a recent window of gold, scored by the champion and compared with the champion's
reference profile; the check recorded and reported; retraining started or skipped, with why."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from sklearn.metrics import average_precision_score

from financial_mlops.datasets.registry import Champion
from financial_mlops.drift_stats import compare, overall_verdict, verdict
from financial_mlops.errors import UserError
from financial_mlops.pipelines.drift.report import drift_figure, summary_markdown

SCORE = "score"  # the score distribution's row among the features in drift_metrics
IGNORED = "ignored"  # the verdict of a feature in drift.ignored_features
# Column order of the drift_metrics and retraining_triggers tables (the catalog's schema DDL).
CHECK_COLUMNS = ("check_id", "checked_at", "window_start", "window_end", "window_rows",
                 "champion_version")
DRIFT_METRICS_COLUMNS = (*CHECK_COLUMNS, "feature", "psi", "ks", "verdict", "check_verdict")


def select_window(gold: DataFrame, labels: DataFrame, drift: dict) -> pd.DataFrame:
    """The recent gold rows with their label where one exists: with ``window.by: rows`` the
    last ``rows`` by event time, with ``by: time`` the last ``minutes`` before the newest.

    Anchored on the newest event rather than the wall clock, so a pause of the feed (a closed
    market, a replayed history) still checks the latest data instead of nothing.
    """
    window = drift["window"]
    features = [name for name in gold.columns if name.startswith("f_")]
    recent = gold.select("trade_id", "event_time", *features)
    if window["by"] == "rows":
        recent = recent.orderBy(F.desc("event_time"), F.desc("trade_id")).limit(int(window["rows"]))
    elif window["by"] == "time":
        # Epoch seconds: Python datetimes from Spark would pass through the local time zone.
        seconds = F.col("event_time").cast("double")
        newest = recent.agg(F.max(seconds)).first()[0]
        if newest is not None:
            recent = recent.filter(seconds > newest - 60 * float(window["minutes"]))
    else:
        raise UserError(f"drift.window.by is '{window['by']}': use rows or time")
    known = labels.select("trade_id", F.col("is_anomaly").alias("label"))
    return recent.join(known, "trade_id", "left").toPandas()


def _recent_pr_auc(labels: pd.Series, scores: np.ndarray) -> tuple[float | None, int]:
    """PR-AUC on the labelled rows of the window, None unless both classes are there."""
    known = labels.notna().to_numpy()
    truth = labels[known].astype(int)
    if truth.nunique() < 2:
        return None, int(known.sum())
    return float(average_precision_score(truth, scores[known])), int(known.sum())


def check_drift(window: pd.DataFrame, champion: Champion | None, drift: dict,
                after: object = None) -> dict:
    """PSI and KS of every feature of the champion and of its scores, their verdicts and the
    check's verdict; recent PR-AUC against the champion's own test PR-AUC where labels exist.
    Features in ``ignored_features`` are measured and shown but take no part in the verdict.

    The window is scored here, by the champion's version itself, so the scores compared with
    its reference are that model's, whatever model scored these trades when they streamed in.
    ``after`` only orders the check after an upstream stage (see ``create_pipeline``).
    """
    if champion is None:
        raise UserError("there is no @champion model to check for drift: run the tournament "
                        "and deployment pipelines first")
    features = list(champion.profile["features"])
    missing = sorted(set(features) - set(window.columns))
    if missing:
        raise UserError(f"gold_trade_features lacks the champion's features {missing}")
    if len(window) < int(drift["min_window_rows"]):
        raise UserError(f"the drift window has {len(window)} gold rows, fewer than "
                        f"drift.min_window_rows={drift['min_window_rows']}")
    scores = champion.model.predict(window[features])["score"].to_numpy(dtype=float)
    if not np.isfinite(scores).all():
        raise UserError(f"the champion {champion.name} v{champion.version} returned "
                        f"{(~np.isfinite(scores)).sum()} non-finite scores: roll it back")
    thresholds = drift["thresholds"]
    stats = pd.DataFrame(
        [(name, *compare(champion.profile["features"][name], window[name].to_numpy()))
         for name in features] + [(SCORE, *compare(champion.profile["score"], scores))],
        columns=["feature", "psi", "ks"],
    )
    ignored = set(drift["ignored_features"] or ())
    stats["verdict"] = [IGNORED if name in ignored else verdict(p, k, thresholds)
                        for name, p, k in zip(stats.feature, stats.psi, stats.ks, strict=True)]
    overall, reason = overall_verdict(
        {n: v for n, v in zip(stats.feature[:-1], stats.verdict[:-1], strict=True) if v != IGNORED},
        stats.verdict.iloc[-1], int(thresholds["min_alerting_features"]))
    pr_auc, labelled = _recent_pr_auc(window["label"], scores)
    return {
        "check_id": uuid.uuid4().hex,
        "checked_at": datetime.now(UTC),
        "champion": f"{champion.name} v{champion.version}",
        "champion_version": champion.version,
        "champion_test_pr_auc": champion.test_pr_auc,
        "window_start": window["event_time"].min(),
        "window_end": window["event_time"].max(),
        "window_rows": len(window),
        "stats": stats,
        "verdict": overall,
        "reason": reason,
        "recent_pr_auc": pr_auc,
        "labelled_rows": labelled,
        "scores": {"reference": champion.profile["score"]["sample"], "recent": scores},
    }


def report_drift(check: dict, drift: dict) -> tuple[pd.DataFrame, Figure, str, dict, dict]:
    """Everything that records the check: its ``drift_metrics`` rows, the PNG and markdown
    report and MLflow metrics, and the outcome the retraining decision reads. The decision
    takes that outcome, so the check is recorded before any retraining can start."""
    rows = check["stats"].assign(
        **{name: check[name] for name in CHECK_COLUMNS}, check_verdict=check["verdict"]
    )[list(DRIFT_METRICS_COLUMNS)]
    metrics = {
        **{f"{stat}.{r.feature}": {"value": getattr(r, stat), "step": 0}
           for r in check["stats"].itertuples() for stat in ("psi", "ks")},
        "alerting_features": {"value": float((check["stats"].verdict[:-1] == "alert").sum()),
                              "step": 0},
        "alert": {"value": float(check["verdict"] == "alert"), "step": 0},
        **{name: {"value": check[name], "step": 0} for name in
           ("recent_pr_auc", "champion_test_pr_auc") if check[name] is not None},
    }
    outcome = {name: check[name] for name in
               ("check_id", "checked_at", "champion_version", "verdict", "reason")}
    return (rows, drift_figure(check, drift["thresholds"]), summary_markdown(check), metrics,
            outcome)


def decide_retraining(
    outcome: dict, triggers: DataFrame, job_status: dict, drift: dict
) -> tuple[pd.DataFrame, dict]:
    """Trigger retraining on an alert unless one is running or was triggered within the
    cooldown. Returns the decision's record for ``retraining_triggers`` and the request to the
    retraining job. Kedro saves a node's outputs in order: the record is durable before the
    job starts, so a concurrent or later check sees it."""
    cooldown = timedelta(hours=float(drift["retraining"]["cooldown_hours"]))
    now = outcome["checked_at"]
    triggered = triggers.filter(F.col("action") == "triggered")
    last_seconds = triggered.agg(F.max(F.col("decided_at").cast("double"))).first()[0]
    last = None if last_seconds is None else datetime.fromtimestamp(last_seconds, UTC)
    if outcome["verdict"] != "alert":
        action, reason = "not_needed", f"drift {outcome['verdict']}: {outcome['reason']}"
    elif job_status["active_runs"]:
        action, reason = "skipped", f"retraining run(s) {job_status['active_runs']} still running"
    elif last is not None and now - last < cooldown:
        action, reason = "skipped", (
            f"cooldown: retraining was triggered at {last:%Y-%m-%d %H:%M:%S} UTC, "
            f"{(now - last).total_seconds() / 60:.0f} min ago (cooldown {cooldown})")
    else:
        action, reason = "triggered", f"drift alert: {outcome['reason']}"
    record = pd.DataFrame([{
        "check_id": outcome["check_id"], "decided_at": now,
        "champion_version": outcome["champion_version"], "drift_verdict": outcome["verdict"],
        "action": action, "reason": reason,
    }])
    request = {"launch": action == "triggered", "check_id": outcome["check_id"],
               "reason": reason, "timeout_seconds": cooldown.total_seconds()}
    return record, request
