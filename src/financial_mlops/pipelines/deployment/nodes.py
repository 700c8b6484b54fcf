"""Deployment nodes: score challenger and champion on the same rows, of the kind the challenger
learnt from, decide by the safety gates, then say which champion move follows. The registry is
read and moved through datasets (``datasets.registry``): these functions take and return plain
values."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
from pyspark.sql import DataFrame

from financial_mlops.datasets.registry import Challenger, Champion
from financial_mlops.errors import UserError
from financial_mlops.lineage import LABEL_MODES, git_sha, injection_of, labels_mode_of
from financial_mlops.modeling.injected_gold import held_out_injected
from financial_mlops.promotion.aliases import AliasState
from financial_mlops.promotion.challenger import run_evidence
from financial_mlops.promotion.change import KEEP, PROMOTE, REJECT
from financial_mlops.promotion.evaluation import (
    newest_rows,
    paired_bootstrap_pr_auc_difference,
    slice_metrics,
    smoke_test,
)
from financial_mlops.promotion.gates import decide
from financial_mlops.promotion.records import utc_now

log = logging.getLogger(__name__)


def judged_on(challenger: Challenger, deployment: dict) -> dict[str, Any]:
    """What the challenger is judged on: its run's labels mode and, for ``injected``, where the
    silver trades it never trained or tuned on begin (``since``) and the injection into them
    (the run's rate and mix, the deployment's own seed)."""
    tags = challenger.items.get("tags", {})
    mode = labels_mode_of(tags)
    if mode not in LABEL_MODES:
        raise UserError(f"version {challenger.version} of {challenger.name} was trained with "
                        f"labels '{mode}', which this deployment cannot judge (it knows "
                        f"{', '.join(LABEL_MODES)})")
    if mode == "simulator":
        return {"labels_mode": mode}
    injection = injection_of(tags)
    lacking = [tag for tag, value in (("test_start", tags.get("test_start")),
                                      ("injection_rate", injection["rate"])) if value is None]
    if lacking:
        raise UserError(f"version {challenger.version} of {challenger.name} was trained on "
                        f"injected labels but its run lacks {', '.join(lacking)}, so the rows to "
                        "judge it on are unknown: run the tournament again (a newer version "
                        "supersedes it)")
    return {"labels_mode": mode, "since": tags["test_start"],
            "seed": int(deployment["injected"]["seed"]), "training_seed": injection["seed"],
            "rate": injection["rate"], "anomaly_mix": injection["anomaly_mix"]}


def recent_labelled_slice(gold: DataFrame, labels: DataFrame, deployment: dict) -> pd.DataFrame:
    """The ``slice_rows`` most recent labelled gold rows: the rows a challenger trained on the
    simulator's labels is judged on."""
    labelled = gold.join(labels.select("trade_id", "is_anomaly"), "trade_id")
    rows = newest_rows(labelled, deployment["slice_rows"])
    _check_both_classes(rows, "most recent labelled gold rows",
                        "ingest labelled trades, or raise deployment.slice_rows")
    return rows


def scoring_slice(gold: DataFrame, labels: DataFrame, silver: DataFrame,
                  challenger: Challenger | None, deployment: dict, features: dict
                  ) -> pd.DataFrame:
    """The rows challenger and champion are both judged on, newest first, of the kind the
    challenger learnt from (``judged_on``): the most recent labelled gold rows, or held-out
    silver trades of the user's market with injected anomalies (``held_out_injected``: in
    memory only). No challenger: no rows."""
    if challenger is None:
        return pd.DataFrame()
    judged = judged_on(challenger, deployment)
    if judged["labels_mode"] == "simulator":
        return recent_labelled_slice(gold, labels, deployment)
    rows = held_out_injected(silver, judged["since"], deployment["slice_rows"], judged,
                             seed=judged["seed"], gold=features["gold"])
    _check_both_classes(rows, f"silver trades since {judged['since']} with injected anomalies",
                        "ingest more trades, or raise deployment.slice_rows")
    return rows


def _check_both_classes(rows: pd.DataFrame, what: str, remedy: str) -> None:
    anomalies = int(rows["is_anomaly"].sum()) if len(rows) else 0
    if not 0 < anomalies < len(rows):
        raise UserError(f"the {len(rows)} {what} hold {anomalies} anomalies: PR-AUC needs both "
                        f"classes ({remedy})")


def _describe(rows: pd.DataFrame) -> dict[str, Any]:
    return {"rows": len(rows), "anomalies": int(rows["is_anomaly"].sum()),
            "event_time_min": str(rows["event_time"].min()),
            "event_time_max": str(rows["event_time"].max())}


def _champion_outputs(champion: Champion, rows: pd.DataFrame) -> pd.DataFrame:
    result, outputs = smoke_test(champion.uri, rows)
    if outputs is None or not result["finite"]:
        raise UserError(
            f"champion v{champion.version} of {champion.name} cannot score the judged rows "
            f"({result.get('error', 'non-finite outputs')}): roll it back with "
            "`kedro run --pipelines rollback` before deploying")
    return outputs


def decide_promotion(scoring_slice: pd.DataFrame, champion: Champion | None,
                     challenger: Challenger | None, deployment: dict) -> dict:
    """Judge the challenger (the newest undecided version) against the champion on the same
    rows; the record (each check's value and verdict) becomes an MLflow run when saved."""
    name = deployment["registered_model_name"]
    before = champion.aliases if champion is not None else AliasState(None, None)
    record: dict[str, Any] = {
        "model": name, "decided_at": utc_now(), "champion_before": before.as_dict(),
        "slice": None, "error": None}
    if challenger is None:
        log.info("No undecided version of %s newer than champion v%s", name, before.champion)
        return {**record, "status": "no_challenger", "challenger_version": None}
    record["slice"] = {**judged_on(challenger, deployment), **_describe(scoring_slice)}
    version = challenger.version
    labels = scoring_slice["is_anomaly"]
    smoke, outputs = smoke_test(challenger.uri, scoring_slice)
    measured = {**run_evidence(challenger.items, version, deployment["required"]),
                "smoke": smoke}
    if outputs is not None and smoke["finite"]:
        measured.update(slice_metrics(labels, outputs))
    champion_metrics = None
    if before.champion is not None:
        champion_outputs = _champion_outputs(champion, scoring_slice)
        champion_metrics = slice_metrics(labels, champion_outputs)
        if "pr_auc" in measured and deployment["bootstrap"]["enabled"]:
            bootstrap = deployment["bootstrap"]
            record["bootstrap"] = paired_bootstrap_pr_auc_difference(
                labels, outputs["score"], champion_outputs["score"],
                resamples=bootstrap["resamples"], confidence=bootstrap["confidence"],
                seed=bootstrap["seed"])
            measured["pr_auc_diff_ci_low"] = record["bootstrap"]["ci_low"]
    decision = decide(measured, champion_metrics, deployment)
    status = "promote" if decision.promote else "reject"
    record.update(status=status, challenger_version=version, challenger=measured,
                  champion=champion_metrics,
                  checks=[check.as_dict() for check in decision.checks], reasons=decision.reasons,
                  _run={"name": f"promotion-decision-{name}-v{version}", "tags": {
                      "decision": status, "model": name, "challenger_version": version,
                      "champion_version": str(before.champion), "git_sha": git_sha()}})
    log.info("Decision on %s v%s: %s%s", name, version, status,
             f" ({'; '.join(decision.reasons)})" if decision.reasons else "")
    return record


def apply_promotion(decision: dict, scoring_slice: pd.DataFrame, validation: dict) -> dict:
    """The champion move the decision calls for, saved to ``deployed_champion`` (which moves
    the aliases under the promotion lock, validates the new champion and reverts it if it
    fails: see ``promotion.change.carry_out``)."""
    name = decision["model"]
    if decision["status"] == "no_challenger":
        return {"model": name, "kind": KEEP, "before": decision["champion_before"]}
    move = {"model": name, "version": decision["challenger_version"],
            "run_id": decision["decision_run_id"], "artifact": "champion_change.json"}
    if decision["status"] == "reject":
        return {**move, "kind": REJECT}
    return {**move, "kind": PROMOTE, "before": decision["champion_before"],
            "rows": scoring_slice.head(validation["rows"]), "validation": validation}

