"""Per-candidate hyper-parameter search with optuna: seeded TPE, median pruning, and validation
PR-AUC as the objective. Search spaces come from ``parameters_tournament.yml``::

    max_depth: {low: 3, high: 8}                   # int when both bounds are ints
    learning_rate: {low: 0.01, high: 0.3, log: true}
    class_weight: {choices: [null, balanced]}

The same seed, data and trial budget give the same trials and the same best model. A ``timeout``
caps a slow machine: it can stop a study early, and then fewer trials ran than on a fast one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import optuna
import pandas as pd

from financial_mlops.modeling.candidates import Splits, fit_candidate
from financial_mlops.modeling.metrics import pr_auc
from financial_mlops.modeling.scoring import anomaly_scores

optuna.logging.set_verbosity(optuna.logging.WARNING)


@dataclass
class Tuned:
    """The best model of a candidate, its hyper-parameters and how it was found."""

    model: Any
    params: dict[str, Any]
    fit_seconds: float
    study: optuna.Study | None  # None when the candidate has nothing to tune


def suggest(trial: optuna.Trial, space: dict[str, dict]) -> dict[str, Any]:
    """One value per hyper-parameter of ``space``, drawn by the trial's sampler."""
    values = {}
    for name, spec in space.items():
        if "choices" in spec:
            values[name] = trial.suggest_categorical(name, spec["choices"])
        elif isinstance(spec["low"], int) and isinstance(spec["high"], int):
            values[name] = trial.suggest_int(name, spec["low"], spec["high"],
                                             log=spec.get("log", False))
        else:
            values[name] = trial.suggest_float(name, float(spec["low"]), float(spec["high"]),
                                               log=spec.get("log", False))
    return values


def _timed_fit(kind: str, params: dict, splits: Splits, seed: int, report=None):
    start = time.perf_counter()
    model = fit_candidate(kind, params, splits, seed, report)
    return model, time.perf_counter() - start


def tune(kind: str, settings: dict, splits: Splits, seed: int, pruner: dict) -> Tuned:
    """Search ``settings.search_space`` (over ``settings.fixed``) for the best validation PR-AUC
    in at most ``n_trials`` (>= 1) trials and ``timeout_seconds``; keep the best trial's fitted
    model (the first trials are never pruned, and a timeout stops only between trials)."""
    fixed = dict(settings.get("fixed") or {})
    space = settings.get("search_space") or {}
    if not space:
        model, seconds = _timed_fit(kind, fixed, splits, seed)
        return Tuned(model, fixed, seconds, None)

    best: dict[str, Any] = {}

    def objective(trial: optuna.Trial) -> float:
        params = {**fixed, **suggest(trial, space)}

        def report(step: int, value: float) -> None:
            trial.report(value, step)
            if trial.should_prune():
                raise optuna.TrialPruned()

        model, seconds = _timed_fit(kind, params, splits, seed, report)
        value = pr_auc(splits.validation.y, anomaly_scores(model, splits.validation.X))
        if not best or value > best["value"]:
            best.update(value=value, tuned=Tuned(model, params, seconds, None))
        return value

    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(**pruner),
    )
    study.optimize(objective, n_trials=int(settings["n_trials"]),
                   timeout=settings.get("timeout_seconds"))
    best["tuned"].study = study
    return best["tuned"]


def study_summary(study: optuna.Study | None) -> tuple[dict[str, float], pd.DataFrame]:
    """Trial counts (zero when nothing was tuned) and the best value as metrics; every trial as
    a table."""
    states = [t.state for t in study.trials] if study else []
    metrics = {
        "study_trials": float(len(states)),
        "study_trials_complete": float(states.count(optuna.trial.TrialState.COMPLETE)),
        "study_trials_pruned": float(states.count(optuna.trial.TrialState.PRUNED)),
    }
    if study is None:
        return metrics, pd.DataFrame()
    return {**metrics, "study_best_val_pr_auc": float(study.best_value)}, study.trials_dataframe()
