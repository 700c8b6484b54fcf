"""Alert events as plain values, built from the records the stages already keep.

An event's id derives from what it describes (the drift window's watermark, the challenger and
champion versions of a decision, the rollback's versions and time, the digest's window), never
from when it was raised: the same fact raised again by a task retry or a rerun over the same
inputs has the same id, and ``AlertDataset``'s ledger sends it once.

The node functions here return an *outbox* (the events ``params:alerts`` lets through, and the
delivery settings), saved to an ``AlertDataset``: the nodes stay pure, the dataset sends.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from financial_mlops.errors import UserError

SEVERITIES = ("info", "warning", "critical")
FORMATS = ("generic", "slack")
# Where a drift check's report is: the artifacts of the drift run (drift_report_png and
# drift_summary_md in catalog_drift.yml), and its rows in drift_metrics by check_id.
DRIFT_REPORT = ("drift/drift_summary.md", "drift/drift_report.png")


def event_id(kind: str, *subject: Any) -> str:
    """``<kind>-<hash of the subject>``: stable across runs for the same subject."""
    digest = hashlib.sha256("|".join(map(str, (kind, *subject))).encode()).hexdigest()[:20]
    return f"{kind}-{digest}"


def make_event(kind: str, severity: str, subject: tuple, title: str, lines: list[str],
               details: dict[str, Any], family: str | None = None) -> dict[str, Any]:
    """One event: ``lines`` are the human text (Slack, the log), ``details`` the machine part.
    Events of one ``family`` (default: the kind) share ids: one subject, one event."""
    return {"id": event_id(family or kind, *subject), "kind": kind, "severity": severity,
            "title": title, "lines": lines, "details": details}


def outbox(events: list[dict], alerts: dict) -> dict:
    """The events of an enabled kind and at least ``min_severity``, with the delivery settings
    the sink applies (webhook on or off, format, retries, timeout)."""
    minimum, fmt = alerts["min_severity"], alerts["delivery"]["format"]
    if minimum not in SEVERITIES:
        raise UserError(f"alerts.min_severity '{minimum}' is not one of {', '.join(SEVERITIES)}")
    if fmt not in FORMATS:
        raise UserError(f"alerts.delivery.format '{fmt}' is not one of {', '.join(FORMATS)}")
    kinds = set(alerts["kinds"])
    kept = [e for e in events if e["kind"] in kinds
            and SEVERITIES.index(e["severity"]) >= SEVERITIES.index(minimum)]
    return {"events": kept, "delivery": dict(alerts["delivery"])}


def _top_features(stats: pd.DataFrame, top: int) -> list[dict]:
    whole = stats[stats["segment"] == "all"].sort_values("psi", ascending=False).head(top)
    return [{"feature": r.feature, "psi": round(float(r.psi), 4), "ks": round(float(r.ks), 4),
             "verdict": r.verdict} for r in whole.itertuples()]


def _drift_subject(check: dict) -> tuple:
    """A check is known by its champion and its window's watermark (its latest arrival)."""
    return check["champion"], check["watermark"].get("arrived_at_micros")


def drift_alert_events(check: dict, alerts: dict) -> dict:
    """A drift alert, with the top drifting features and where the report is, when the check
    alerts."""
    if check["verdict"] != "alert":
        return outbox([], alerts)
    top = _top_features(check["stats"], int(alerts["drift_top_features"]))
    champion = check["champion"]
    return outbox([make_event(
        "drift_alert", "warning", _drift_subject(check), f"Drift alert on {champion}",
        [check["reason"], "Top drifting features: " + ", ".join(
            f"{t['feature']} (PSI {t['psi']:.2f}, KS {t['ks']:.2f})" for t in top),
         f"Report: {' and '.join(DRIFT_REPORT)} of the drift run; drift_metrics rows of check "
         f"{check['check_id']}"],
        {"champion_version": check["champion_version"], "reason": check["reason"],
         "top_features": top, "window_rows": int(check["window_rows"]),
         "arrived_rows": int(check["arrived_rows"]), "check_id": check["check_id"],
         "report": {"mlflow_artifacts": list(DRIFT_REPORT),
                    "drift_metrics_check_id": check["check_id"]}})], alerts)


RETRAINING = {"triggered": ("retraining_triggered", "info", "Retraining triggered"),
              "skipped": ("retraining_skipped", "warning", "Retraining skipped")}


def retraining_events(check: dict, decisions: DataFrame, alerts: dict) -> dict:
    """The retraining decision of ``check`` when it triggered a retraining or skipped one
    (cooldown, a run in progress), read back from ``retraining_triggers`` once recorded."""
    mine = decisions.filter(F.col("check_id") == check["check_id"]).select(
        "action", "reason").collect()
    events = [make_event(kind, severity, _drift_subject(check),
                         f"{title} for {check['champion']}", [row["reason"]],
                         {"action": row["action"], "reason": row["reason"],
                          "check_id": check["check_id"]},
                         # One decision per window: a rerun skipped by the cooldown the first
                         # run started is the same event.
                         family="retraining")
              for row in mine if row["action"] in RETRAINING
              for kind, severity, title in [RETRAINING[row["action"]]]]
    return outbox(events, alerts)


def _version(value: Any) -> str:
    return "none" if value is None else f"v{value}"


def _change_events(change: dict, reasons: list[str]) -> list[dict]:
    """What a champion change tells people: promoted, rejected (with ``reasons``), rolled
    back, or reverted after a failed post-deploy validation."""
    model, status = change["model"], change["status"]
    before = (change.get("before") or {}).get("champion")
    if status == "promoted":
        version = change["target"]["champion"]
        return [make_event("promotion", "info", (model, version, before),
                           f"{model} v{version} promoted to champion",
                           [f"Champion was {_version(before)}"],
                           {"model": model, "champion": version, "previous_champion": before})]
    if status == "rejected":
        version, champion = change["version"], change["after"].get("champion")
        return [make_event("rejection", "warning", (model, version, champion),
                           f"{model} v{version} rejected; champion stays {_version(champion)}",
                           reasons, {"model": model, "challenger": version,
                                     "champion": champion, "reasons": reasons})]
    if status == "rolled_back":
        target = change["target"]["champion"]
        return [make_event("rollback", "warning", (model, before, target, change["at"]),
                           f"{model} rolled back from {_version(before)} to v{target}", [],
                           {"model": model, "from": before, "to": target, "at": change["at"]})]
    if status == "reverted":
        failed = change["target"]["champion"]
        return [make_event("validation_failed", "critical", (model, failed, before, change["at"]),
                           f"Post-deploy validation of {model} v{failed} failed",
                           [change["error"]], {"model": model, "version": failed,
                                               "restored": before, "error": change["error"],
                                               "reasons": change["validation"]["reasons"]})]
    return []


def deployment_events(decision: dict, change: dict, alerts: dict) -> dict:
    """The decision on a challenger: promotion, rejection with the gates' reasons, or a
    promotion reverted by its post-deploy validation."""
    return outbox(_change_events(change, list(decision.get("reasons") or [])), alerts)


def rollback_events(change: dict, alerts: dict) -> dict:
    return outbox(_change_events(change, []), alerts)


def validation_events(report: dict, alerts: dict) -> dict:
    """A failed validation of the serving champion; the same champion failing again on a rerun
    is the same event."""
    if report["passed"]:
        return outbox([], alerts)
    model, version = report["model"], report["champion_version"]
    return outbox([make_event(
        "validation_failed", "critical", (model, version, report["expected_version"]),
        f"Validation of {model}@champion ({_version(version)}) failed", report["reasons"],
        {"model": model, "champion": version, "expected": report["expected_version"],
         "reasons": report["reasons"]})], alerts)
