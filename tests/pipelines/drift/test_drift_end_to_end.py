"""Drift on the simulated market, end to end through the real chain: ingestion and features make
gold, the retraining pipeline makes the champion; a stable market raises no alert, a regime shift
triggers one retraining (tournament, deployment, validation in a child process), and the check
after it, inside the cooldown, records a skip."""

from __future__ import annotations

import json

import pytest
from kedro.framework.session import KedroSession
from mlflow import MlflowClient

from financial_mlops.pipelines.drift.nodes import check_drift, select_window
from tests.pipelines.drift.conftest import DRIFT_METRICS, GOLD, LABELS, MODEL, TRIGGERS

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
    "deployment": {"slice_rows": 3000, "bootstrap": {"resamples": 200},
                   "floors": {"pr_auc": 0.1, "f1": 0.1, "precision": 0.05, "recall": 0.05}},
    "validation": {"rows": 500},
}


def _market(trades: int, volatility: float = 1.0, volume: float = 1.0) -> dict:
    regime = {"volatility_multiplier": volatility, "volume_multiplier": volume}
    return {"ingestion": {"source": "simulator", "simulator": {
        "trades_per_batch": trades, "regime": regime}}}


def _checks(project, read_delta, trades: int) -> list[dict]:
    """The drift check (the pipeline's own nodes) on consecutive windows of the newest trades."""
    with KedroSession.create(project_path=project.workdir) as session:
        context = session.load_context()
        champion = context.catalog.load("drift_champion")
        params = context.params["drift"]
    latest = select_window(read_delta(project.path(GOLD)), read_delta(project.path(LABELS)),
                           {"window": {"by": "rows", "rows": trades}})
    latest = latest.sort_values("event_time", ignore_index=True)
    return [check_drift(latest.iloc[start:start + WINDOW].reset_index(drop=True), champion, params)
            for start in range(0, trades, WINDOW)]


def _versions() -> list[str]:
    return sorted(str(v.version) for v in MlflowClient().search_model_versions(f"name = '{MODEL}'"))


@pytest.mark.slow
def test_stable_market_stays_quiet_and_a_regime_shift_retrains_once(drift_project, read_delta):
    project = drift_project
    (project.conf / "local" / "parameters_small_retraining.yml").write_text(
        json.dumps(SMALL_RETRAINING))
    drift = {"drift": {"window": {"by": "rows", "rows": WINDOW}}}

    project.run(["ingestion", "features"], params=_market(20_000))
    project.run("retraining")
    assert _versions() == ["1"]

    # Ten consecutive checks on fresh trades of the same market.
    project.run(["ingestion", "features"], params=_market(10 * WINDOW))
    stable = _checks(project, read_delta, 10 * WINDOW)
    assert [c["verdict"] for c in stable if c["verdict"] == "alert"] == [], [
        c["reason"] for c in stable]

    # Volatility x3, volume x2: the first check alerts and the retraining runs, once.
    project.run(["ingestion", "features", "drift"], params={**_market(WINDOW, 3.0, 2.0), **drift})
    shifted = read_delta(project.path(DRIFT_METRICS)).toPandas()
    assert (shifted.verdict == "alert").sum() >= 6, shifted  # far from a near miss
    triggers = read_delta(project.path(TRIGGERS)).orderBy("decided_at").toPandas()
    assert list(triggers.action) == ["triggered"], triggers.reason.tolist()
    assert _versions() == ["1", "2"]  # the tournament registered a challenger...
    decisions = project.path("data/08_reporting/deployment/promotion_decision.json")
    decided = json.loads(max(decisions.iterdir()).joinpath(decisions.name).read_text())
    assert decided["challenger_version"] == "2"  # ...and deployment decided on it

    # The next check, within the cooldown, records a skip and starts nothing.
    project.run("drift", params=drift)
    triggers = read_delta(project.path(TRIGGERS)).orderBy("decided_at").toPandas()
    assert list(triggers.action) == ["triggered", "skipped"]
    assert "cooldown" in triggers.reason.iloc[-1]
    assert _versions() == ["1", "2"]
