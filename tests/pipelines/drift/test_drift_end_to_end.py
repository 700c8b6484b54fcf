"""Drift on the simulated market, end to end through the real chain: ingestion and features make
gold, the retraining pipeline makes the champion; a stable market raises no alert; another,
shifted market whose trades are OLDER than the ones already in gold (a backfill through the
files source) is ingested, built and scored, and the next check alerts and triggers one
retraining (tournament, deployment, validation in a child process); the check after more of it,
inside the cooldown, records a skip; a check with nothing new says so and starts nothing."""

from __future__ import annotations

import json

import pytest
from kedro.framework.session import KedroSession
from mlflow import MlflowClient

from financial_mlops.pipelines.drift.nodes import check_drift, select_window
from financial_mlops.sources.simulator import simulate_batch
from tests.pipelines.drift.conftest import DRIFT_METRICS, MODEL, TRIGGERS

WINDOW = 4000
# The retraining child process reads its parameters from conf, not from this process: a small
# tournament (xgboost against the rule baseline) and gates sized for small slices.
SMALL_RETRAINING = {
    "tournament": {
        "min_positives": 5, "stability_batches": 3,
        "pruner": {"n_startup_trials": 1, "n_warmup_steps": 5},
        "candidates": {
            "xgboost": {"n_trials": 2, "timeout_seconds": 120, "fixed": {"n_estimators": 40}},
            **{name: {"enabled": False} for name in
               ("hist_gradient_boosting", "logistic_regression", "isolation_forest")},
        },
    },
    # Stability gates off: a 20,000-trade market leaves 10-25 anomalies in a validation slice,
    # whose PR-AUC then moves by 0.3 with the simulator's seed (the gates have their own tests).
    "deployment": {"slice_rows": 3000, "bootstrap": {"resamples": 200},
                   "floors": {"pr_auc": 0.1, "f1": 0.1, "precision": 0.05, "recall": 0.05},
                   "stability": {"max_train_val_gap": 1.0, "max_batch_pr_auc_spread": 1.0}},
    "validation": {"rows": 500},
}


def _market(trades: int, volatility: float = 1.0, volume: float = 1.0) -> dict:
    regime = {"volatility_multiplier": volatility, "volume_multiplier": volume}
    return {"ingestion": {"source": "simulator", "simulator": {
        "trades_per_batch": trades, "regime": regime}}}


def _checks(project, trades: int) -> list[dict]:
    """The drift check (the pipeline's own nodes) on consecutive windows of the newest trades."""
    with KedroSession.create(project_path=project.workdir) as session:
        context = session.load_context()
        catalog = context.catalog
        champion = catalog.load("drift_champion")
        params = context.params["drift"]
        arrived, _ = select_window(
            catalog.load("gold_trade_features@delta"), catalog.load("silver_trades"),
            catalog.load("anomaly_labels"), {},
            {**params, "window": {**params["window"], "max_rows": 10 ** 7}})
    latest = arrived.sort_values("event_time", ignore_index=True).iloc[-trades:]
    checks = []
    for start in range(0, trades, WINDOW):
        window = latest.iloc[start:start + WINDOW].reset_index(drop=True)
        coverage = {"since": None, "arrived_rows": len(window), "watermark": {},
                    "arrival_start": None, "arrival_end": None,
                    "event_start": window.event_time.min(), "event_end": window.event_time.max()}
        checks.append(check_drift(window, coverage, champion, params))
    return checks


def _older_market(project, name: str, trades: int, seed: int) -> dict:
    """A file of another market's trades, volatility x3 and volume x2, a year older than the
    simulator's, for the files source; the ingestion params that read it."""
    batch, _, _ = simulate_batch(trades, seed=seed, start="2025-01-06T14:30:00Z",
                                 regime={"volatility_multiplier": 3.0, "volume_multiplier": 2.0})
    batch["trade_id"] = batch["trade_id"].str.replace("SIM-", f"OLD{seed}-")
    folder = project.path("data/01_raw/source_files")
    folder.mkdir(parents=True, exist_ok=True)
    batch.to_json(folder / name, orient="records", lines=True)
    return {"ingestion": {"source": "files", "files": {"path": str(folder)}}}


def _versions() -> list[str]:
    return sorted(str(v.version) for v in MlflowClient().search_model_versions(f"name = '{MODEL}'"))


@pytest.mark.slow
def test_stable_market_stays_quiet_and_an_older_shifted_market_retrains_once(drift_project,
                                                                              read_delta):
    project = drift_project
    (project.conf / "local" / "parameters_small_retraining.yml").write_text(
        json.dumps(SMALL_RETRAINING))
    project.run(["ingestion", "features"], params=_market(20_000))
    project.run("retraining")
    assert _versions() == ["1"]

    # Ten consecutive checks on fresh trades of the same market.
    project.run(["ingestion", "features"], params=_market(10 * WINDOW))
    stable = _checks(project, 10 * WINDOW)
    assert [c["verdict"] for c in stable if c["verdict"] == "alert"] == [], [
        c["reason"] for c in stable]
    project.run("drift")  # everything that arrived so far: the market the champion knows
    triggers = read_delta(project.path(TRIGGERS)).toPandas()
    assert list(triggers.action) == ["not_needed"], triggers.reason.tolist()

    # Another, shifted market with older trade times arrives, is built and scored: the next
    # check alerts and the retraining runs, once.
    older = _older_market(project, "older_market_1.jsonl", WINDOW, seed=7)
    project.run(["ingestion", "features", "inference"], params=older)
    project.run("drift")
    shifted = read_delta(project.path(DRIFT_METRICS)).toPandas()
    shifted = shifted[(shifted.checked_at == shifted.checked_at.max()) & (shifted.segment == "all")]
    assert (shifted.verdict == "alert").sum() >= 6, shifted  # twice the 3 an alert needs
    assert shifted.window_end.max().year == 2025 and (shifted.arrived_rows == WINDOW).all()
    triggers = read_delta(project.path(TRIGGERS)).orderBy("decided_at").toPandas()
    assert list(triggers.action) == ["not_needed", "triggered"], triggers.reason.tolist()
    assert _versions() == ["1", "2"]  # the tournament registered a challenger...
    decisions = project.path("data/08_reporting/deployment/promotion_decision.json")
    decided = json.loads(max(decisions.iterdir()).joinpath(decisions.name).read_text())
    assert decided["challenger_version"] == "2"  # ...and deployment decided on it

    # More of it arrives: the next check, within the cooldown, records a skip, starts nothing.
    more = _older_market(project, "older_market_2.jsonl", WINDOW, seed=8)
    project.run(["ingestion", "features", "drift"], params=more)
    triggers = read_delta(project.path(TRIGGERS)).orderBy("decided_at").toPandas()
    assert list(triggers.action) == ["not_needed", "triggered", "skipped"]
    assert "cooldown" in triggers.reason.iloc[-1]

    # Nothing new: the check says so, re-checks no old rows and starts nothing.
    project.run("drift")
    triggers = read_delta(project.path(TRIGGERS)).orderBy("decided_at").toPandas()
    assert list(triggers.drift_verdict.iloc[-1:]) == ["nothing_new"]
    assert list(triggers.action) == ["not_needed", "triggered", "skipped", "not_needed"]
    summary = project.path("data/08_reporting/drift/drift_summary.md").read_text()
    assert summary.split("\n")[0].endswith("UTC: NOTHING NEW")
    assert _versions() == ["1", "2"]
