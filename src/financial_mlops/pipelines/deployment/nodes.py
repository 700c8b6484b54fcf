"""Deployment nodes: score challenger and champion on the same recent labelled gold rows,
decide by the safety gates, then apply the decision (aliases only) and validate it."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
from pyspark.sql import DataFrame

from financial_mlops import registry
from financial_mlops.errors import UserError
from financial_mlops.lineage import git_sha
from financial_mlops.promotion.aliases import AliasState, read_aliases
from financial_mlops.promotion.challenger import DECISION_TAG, newest_challenger, run_evidence
from financial_mlops.promotion.change import change_champion
from financial_mlops.promotion.evaluation import (
    newest_rows,
    paired_bootstrap_pr_auc_difference,
    slice_metrics,
    smoke_test,
)
from financial_mlops.promotion.gates import decide
from financial_mlops.promotion.records import log_checks, start_record_run, utc_now

log = logging.getLogger(__name__)


def recent_labelled_slice(gold: DataFrame, labels: DataFrame, deployment: dict) -> pd.DataFrame:
    """The ``slice_rows`` most recent labelled gold rows: the rows both models are judged on."""
    labelled = gold.join(labels.select("trade_id", "is_anomaly"), "trade_id")
    rows = newest_rows(labelled, deployment["slice_rows"])
    if rows["is_anomaly"].nunique() < 2:
        raise UserError(
            f"the {len(rows)} most recent labelled gold rows hold "
            f"{int(rows['is_anomaly'].sum()) if len(rows) else 0} anomalies: PR-AUC needs both "
            "classes (ingest labelled trades, or raise deployment.slice_rows)")
    return rows


def _describe(rows: pd.DataFrame) -> dict[str, Any]:
    return {"rows": len(rows), "anomalies": int(rows["is_anomaly"].sum()),
            "event_time_min": str(rows["event_time"].min()),
            "event_time_max": str(rows["event_time"].max())}


def _champion_outputs(name: str, version: str, rows: pd.DataFrame) -> pd.DataFrame:
    result, outputs = smoke_test(registry.model_uri(name, version), rows)
    if outputs is None or not result["finite"]:
        raise UserError(
            f"champion v{version} of {name} cannot score the recent gold rows "
            f"({result.get('error', 'non-finite outputs')}): roll it back with "
            "`kedro run --pipelines rollback` before deploying")
    return outputs


def decide_promotion(scoring_slice: pd.DataFrame, deployment: dict,
                     tournament_winner: dict | None = None) -> dict:
    """Judge the newest undecided version against the champion; log the decision as an MLflow
    run (each check's value and verdict, the JSON record) and return the record.

    ``tournament_winner`` (in ``retraining``) makes the decision wait for the tournament and is
    kept in the record.
    """
    name = deployment["registered_model_name"]
    client = registry.client()
    before = read_aliases(client, name)
    record: dict[str, Any] = {
        "model": name, "decided_at": utc_now(), "champion_before": before.as_dict(),
        "slice": _describe(scoring_slice), "tournament_winner": tournament_winner, "error": None}
    challenger = newest_challenger(client, name, before.champion)
    if challenger is None:
        log.info("No undecided version of %s newer than champion v%s", name, before.champion)
        return {**record, "status": "no_challenger", "challenger_version": None}
    version = str(challenger.version)
    labels = scoring_slice["is_anomaly"]
    smoke, outputs = smoke_test(registry.model_uri(name, version), scoring_slice)
    measured = {**run_evidence(client, challenger, deployment["required"]), "smoke": smoke}
    if outputs is not None and smoke["finite"]:
        measured.update(slice_metrics(labels, outputs))
    champion = None
    if before.champion is not None:
        champion_outputs = _champion_outputs(name, before.champion, scoring_slice)
        champion = slice_metrics(labels, champion_outputs)
        if "pr_auc" in measured and deployment["bootstrap"]["enabled"]:
            bootstrap = deployment["bootstrap"]
            record["bootstrap"] = paired_bootstrap_pr_auc_difference(
                labels, outputs["score"], champion_outputs["score"],
                resamples=bootstrap["resamples"], confidence=bootstrap["confidence"],
                seed=bootstrap["seed"])
            measured["pr_auc_diff_ci_low"] = record["bootstrap"]["ci_low"]
    decision = decide(measured, champion, deployment)
    status = "promote" if decision.promote else "reject"
    run_id = start_record_run(f"promotion-decision-{name}-v{version}", {
        "decision": status, "model": name, "challenger_version": version,
        "champion_version": str(before.champion), "git_sha": git_sha()})
    record.update(status=status, challenger_version=version, decision_run_id=run_id,
                  challenger=measured, champion=champion,
                  checks=[check.as_dict() for check in decision.checks], reasons=decision.reasons)
    log_checks(client, run_id, record["checks"])
    client.log_dict(run_id, record, "promotion_decision.json")
    log.info("Decision on %s v%s: %s%s", name, version, status,
             f" ({'; '.join(decision.reasons)})" if decision.reasons else "")
    return record


def apply_promotion(decision: dict, scoring_slice: pd.DataFrame, validation: dict) -> dict:
    """Carry out the decision: tag a rejected version; for a promotion move the aliases,
    validate the new champion and revert if it fails (see ``promotion.change``)."""
    name, version = decision["model"], decision.get("challenger_version")
    if decision["status"] == "no_challenger":
        return {"model": name, "status": "no_change", "error": None,
                "after": decision["champion_before"]}
    client = registry.client()
    run_id = decision["decision_run_id"]
    if decision["status"] == "reject":
        change = {"model": name, "status": "rejected", "error": None, "version": version,
                  "run_id": run_id, "after": read_aliases(client, name).as_dict()}
    else:
        before = AliasState(**decision["champion_before"])
        change = change_champion(
            client, name, before=before, target=AliasState(version, before.champion),
            action="promoted", run_id=run_id, rows=scoring_slice.head(validation["rows"]),
            validation=validation)
    if change["status"] != "conflict":  # after a lost race the version is decided again later
        client.set_model_version_tag(name, version, DECISION_TAG, change["status"])
    client.set_tag(run_id, "outcome", change["status"])
    client.log_dict(run_id, change, "champion_change.json")
    log.info("%s v%s: %s", name, version, change["error"] or change["status"])
    return change
