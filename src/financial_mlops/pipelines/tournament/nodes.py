"""Tournament nodes: labelled gold -> time-ordered slices -> tuned candidates, each in a nested
MLflow run -> leaderboard and charts -> the winner registered as a new model version.

The active MLflow run is the parent run kedro-mlflow opened for the pipeline run.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from threadpoolctl import threadpool_limits

from financial_mlops.errors import UserError
from financial_mlops.features import trade_features
from financial_mlops.lineage import (
    DEFAULT_LABELS_MODE,
    LABEL_MODES,
    LABELS_MODE_TAG,
    delta_version_tags,
    git_sha,
    injection_tags,
)
from financial_mlops.modeling.candidates import (
    BASELINE_KIND,
    FITTERS,
    MaxAbsZScore,
    Slice,
    Splits,
    matching_columns,
)
from financial_mlops.modeling.charts import leaderboard_figure, pr_curves_figure
from financial_mlops.modeling.injected import inject_anomalies
from financial_mlops.modeling.injected_gold import injected_gold
from financial_mlops.modeling.metrics import (
    batch_pr_auc_spread,
    best_f1_threshold,
    classification_metrics,
    pr_auc,
)
from financial_mlops.modeling.pyfunc import AnomalyDetector, log_detector
from financial_mlops.modeling.scoring import anomaly_scores
from financial_mlops.modeling.tuning import study_summary, tune
from financial_mlops.profile import SEGMENT_COLUMNS, build_reference_profile
from financial_mlops.sources.simulator.other_market import other_market
from financial_mlops.spark import from_pandas

log = logging.getLogger(__name__)

SLICES = ("train", "validation", "test")
FEATURE_PREFIX = "f_"


def labels_mode(tournament: dict) -> str:
    mode = tournament.get("labels", DEFAULT_LABELS_MODE)
    if mode not in LABEL_MODES:
        raise UserError(f"tournament.labels is '{mode}': use one of {', '.join(LABEL_MODES)}")
    return mode


def labelled_trades(gold: DataFrame, labels: DataFrame, silver: DataFrame, tournament: dict,
                    features: dict) -> tuple[DataFrame, DataFrame]:
    """The gold rows and labels the tournament learns from.

    ``simulator``: gold and the source's ``anomaly_labels``. ``injected``: the newest
    ``injected.max_trades`` silver trades with labelled anomalies injected into a copy in
    memory (``modeling.injected_gold``), their features computed by gold's own function;
    nothing of it is written to any table.
    """
    if labels_mode(tournament) == "simulator":
        return gold, labels
    settings = tournament["injected"]
    newest = silver.orderBy(F.desc("event_time")).limit(int(settings["max_trades"]))
    rows, injected_labels = injected_gold(newest, settings, seed=int(settings["seed"]),
                                          gold=features["gold"])
    log.info("Injected %d labelled anomalies into a copy of the %d newest silver trades",
             int(injected_labels["is_anomaly"].sum()),
             int((injected_labels["is_anomaly"] == 0).sum()))
    return rows, from_pandas(silver.sparkSession, injected_labels,
                             "trade_id string, is_anomaly int, anomaly_type string")


@dataclass
class CandidateResult:
    """A tuned candidate: its servable detector, its metrics and its MLflow run."""

    name: str
    kind: str
    run_id: str
    detector: AnomalyDetector
    metrics: dict[str, float]
    test_scores: np.ndarray


def _candidates(tournament: dict) -> dict[str, dict]:
    """The enabled candidates (name -> settings), checked before any data is read."""
    enabled = {name: {"kind": name, **settings}
               for name, settings in tournament["candidates"].items()
               if settings.get("enabled", True)}
    for name, settings in enabled.items():
        if settings["kind"] not in FITTERS:
            raise UserError(f"tournament candidate '{name}' has unknown kind '{settings['kind']}' "
                            f"(known: {', '.join(FITTERS)})")
        if settings.get("search_space") and int(settings.get("n_trials", 0)) < 1:
            raise UserError(f"tournament.candidates.{name}.n_trials must be at least 1")
    baselines = [s for s in enabled.values() if s["kind"] == BASELINE_KIND]
    if len(baselines) != 1:
        raise UserError(f"the tournament needs exactly one enabled '{BASELINE_KIND}' candidate "
                        f"(the baseline every model must beat), found {len(baselines)}")
    if not (baselines[0].get("fixed") or {}).get("columns"):
        raise UserError(f"the '{BASELINE_KIND}' candidate needs fixed.columns: the z-score "
                        "feature columns it takes the largest absolute value of")
    return enabled


def _feature_columns(gold: DataFrame, tournament: dict) -> list[str]:
    """``tournament.features`` (default: every f_* column), plus the rule baseline's columns."""
    available = [c for c in gold.columns if c.startswith(FEATURE_PREFIX)]
    if not available:
        raise UserError(f"gold_trade_features has no feature columns ({FEATURE_PREFIX}*): "
                        "run the features pipeline")
    features = list(tournament.get("features") or available)
    patterns = next(s for s in _candidates(tournament).values()
                    if s["kind"] == BASELINE_KIND)["fixed"]["columns"]
    missing = [c for c in features if c not in available] + [
        p for p in patterns if not matching_columns(available, [p])]
    if missing:
        raise UserError(f"gold_trade_features lacks the feature column(s) {', '.join(missing)} "
                        "named in parameters_tournament.yml")
    return features + [c for c in matching_columns(available, patterns) if c not in features]


def ood_market(gold: DataFrame, tournament: dict, features: dict) -> pd.DataFrame:
    """A market no candidate saw, with labelled injected anomalies: ``other_market`` (other
    symbols, price levels, ticks, venues, activity, regimes) through gold's own features.
    Empty when ``tournament.ood.trades`` is 0 (no out-of-distribution scoring)."""
    settings = tournament.get("ood") or {}
    if not int(settings.get("trades", 0)):
        return pd.DataFrame()
    market = other_market(int(settings["trades"]), seed=int(settings["seed"]))
    rows, labels = inject_anomalies(market, rate=float(settings["rate"]),
                                    seed=int(settings["injection_seed"]))
    frame = trade_features(from_pandas(gold.sparkSession, rows), features["gold"]).toPandas()
    return frame.merge(labels[["trade_id", "is_anomaly"]], on="trade_id")


def _ood_metrics(detector: AnomalyDetector, ood: pd.DataFrame | None) -> dict[str, float]:
    if ood is None or ood.empty:
        return {}
    scores = detector.predict(None, ood)["score"].to_numpy()
    return {"ood_test_pr_auc": pr_auc(ood["is_anomaly"].to_numpy(), scores)}


def _rule_ood_metrics(ood: pd.DataFrame | None, features: list[str], tournament: dict
                      ) -> dict[str, float]:
    """The rule baseline's PR-AUC on the same market (it has nothing to tune), logged on every
    candidate's run so that a gate reads both figures from the challenger's run."""
    if ood is None or ood.empty:
        return {}
    missing = [f for f in features if f not in ood.columns]
    if missing:
        raise UserError(f"the out-of-distribution market has no {', '.join(missing)}: "
                        "tournament.features must be gold features (or set tournament.ood.trades "
                        "to 0)")
    columns = next(s for s in _candidates(tournament).values()
                   if s["kind"] == BASELINE_KIND)["fixed"]["columns"]
    rule = MaxAbsZScore(columns).fit(ood[features])
    return {"rule_ood_test_pr_auc": pr_auc(ood["is_anomaly"].to_numpy(),
                                           -rule.score_samples(ood[features]))}


def _split_by_time(event_time: pd.Series, validation: float, test: float) -> np.ndarray:
    """train < validation start <= validation < test start <= test, on sorted event times.

    Rows sharing a boundary timestamp go to the later slice, so no trade is in an earlier slice
    than one at the same or an earlier time.
    """
    if not (validation > 0 and test > 0 and validation + test < 1):
        raise UserError("tournament.split.validation and .test must be fractions > 0 whose sum "
                        f"is below 1, got {validation} and {test}")
    n = len(event_time)
    validation_start = event_time.iloc[int(n * (1 - validation - test))]
    test_start = event_time.iloc[int(n * (1 - test))]
    return np.select([event_time < validation_start, event_time < test_start],
                     ["train", "validation"], "test")


def _check_classes(frame: pd.DataFrame, min_positives: int) -> None:
    positives = int(frame["is_anomaly"].sum())
    if positives in (0, len(frame)):
        only = "normal (is_anomaly=0)" if positives == 0 else "anomalous (is_anomaly=1)"
        raise UserError(f"all {len(frame)} labelled gold trades are {only}: the tournament "
                        "needs both classes")
    for name in SLICES:
        labels = frame.loc[frame["split"] == name, "is_anomaly"]
        if labels.sum() < min_positives or (labels == 0).sum() == 0:
            raise UserError(
                f"the {name} slice has {int(labels.sum())} anomalies among {len(labels)} trades, "
                f"fewer than tournament.min_positives={min_positives} (or no normal trade): "
                "ingest more trades or lower min_positives")


def prepare_tournament_data(gold: DataFrame, labels: DataFrame, tournament: dict
                            ) -> tuple[pd.DataFrame, list[str]]:
    """Gold features joined with their labels, sorted by event time, with a ``split`` column
    (train / validation / test, oldest to most recent); and the feature column list."""
    features = _feature_columns(gold, tournament)
    if gold.isEmpty():
        raise UserError("gold_trade_features is empty: run the ingestion and features pipelines "
                        "first")
    labelled = gold.join(labels.where("is_anomaly IS NOT NULL").select("trade_id", "is_anomaly"),
                         "trade_id")
    # Symbol and venue go into the winner's reference profile: drift checks each against its own.
    segments = [c for c in SEGMENT_COLUMNS if c in gold.columns]
    frame = labelled.select("trade_id", *segments, "event_time", *features, "is_anomaly").toPandas()
    if frame.empty:
        raise UserError("anomaly_labels has no label for any gold trade: the tournament needs "
                        "labelled trades (the simulator source provides them)")
    frame = frame.sort_values(["event_time", "trade_id"], ignore_index=True)
    frame[features] = frame[features].astype(float)
    frame["is_anomaly"] = frame["is_anomaly"].astype(int)
    split = tournament["split"]
    frame["split"] = _split_by_time(frame["event_time"], split["validation"], split["test"])
    _check_classes(frame, int(tournament["min_positives"]))
    log.info("Tournament data: %d labelled trades, %d anomalies, slices %s", len(frame),
             frame["is_anomaly"].sum(), frame["split"].value_counts().to_dict())
    return frame, features


def slices_of(frame: pd.DataFrame, features: list[str]) -> Splits:
    """The train, validation and test feature matrices and labels of a prepared frame."""
    parts = {name: frame[frame["split"] == name] for name in SLICES}
    return Splits(*(Slice(part[features], part["is_anomaly"].to_numpy())
                    for part in parts.values()))


def _lineage_tags(frame: pd.DataFrame, features: list[str], tournament: dict
                  ) -> dict[str, str]:
    """What every candidate run is traceable by: code, tables, features, data window, and
    where its labels came from (deployment judges it on rows of that kind)."""
    starts = frame.groupby("split", sort=False)["event_time"].min()
    mode = labels_mode(tournament)
    return {
        LABELS_MODE_TAG: mode,
        **(injection_tags(tournament["injected"]) if mode == "injected" else {}),
        "git_sha": git_sha(),
        "feature_list": json.dumps(features),
        "data_window": f"{frame['event_time'].min().isoformat()}/"
                       f"{frame['event_time'].max().isoformat()}",
        "validation_start": starts["validation"].isoformat(),
        "test_start": starts["test"].isoformat(),
        **delta_version_tags(),
    }


def _evaluate(model: Any, features: list[str], splits: Splits, batches: int
              ) -> tuple[AnomalyDetector, dict[str, float], np.ndarray]:
    """The servable detector at the F1-best validation threshold; its metrics on every slice
    (test scored through the detector, timed); its test scores."""
    train_scores = anomaly_scores(model, splits.train.X)
    val_scores = anomaly_scores(model, splits.validation.X)
    detector = AnomalyDetector(model, features, best_f1_threshold(splits.validation.y, val_scores))
    start = time.perf_counter()
    test_scores = detector.predict(None, splits.test.X)["score"].to_numpy()
    scoring_seconds = time.perf_counter() - start
    train_pr_auc = pr_auc(splits.train.y, train_scores)
    val = classification_metrics(splits.validation.y, val_scores, detector.threshold)
    test = classification_metrics(splits.test.y, test_scores, detector.threshold)
    metrics = {
        **{f"val_{k}": v for k, v in val.items()},
        **{f"test_{k}": v for k, v in test.items()},
        "train_pr_auc": train_pr_auc,
        "train_val_gap": train_pr_auc - val["pr_auc"],
        "batch_pr_auc_spread": batch_pr_auc_spread(splits.test.y, test_scores, batches),
        "scoring_rows_per_second": len(test_scores) / max(scoring_seconds, 1e-9),
    }
    return detector, metrics, test_scores


def run_tournament(frame: pd.DataFrame, features: list[str], tournament: dict,
                   ood: pd.DataFrame | None = None) -> list[CandidateResult]:
    """Tune, fit and evaluate every enabled candidate, each in its own nested MLflow run;
    with ``ood``, also on that market it never saw."""
    rule_ood = _rule_ood_metrics(ood, features, tournament)  # checks the market first
    splits = slices_of(frame, features)
    tags = _lineage_tags(frame, features, tournament)
    seed = int(tournament["seed"])
    results = []
    for name, settings in _candidates(tournament).items():
        with (threadpool_limits(limits=tournament.get("threads")),
              mlflow.start_run(run_name=name, nested=True) as run):
            start = time.perf_counter()
            tuned = tune(settings["kind"], settings, splits, seed, tournament["pruner"])
            tuning_seconds = time.perf_counter() - start
            detector, metrics, test_scores = _evaluate(tuned.model, features, splits,
                                                       int(tournament["stability_batches"]))
            study_metrics, trials = study_summary(tuned.study)
            metrics.update(study_metrics, fit_seconds=tuned.fit_seconds,
                           tuning_seconds=tuning_seconds, **_ood_metrics(detector, ood),
                           **rule_ood)
            mlflow.log_params({**tuned.params, "candidate": name})
            mlflow.log_metrics(metrics)
            mlflow.set_tags({**tags, "candidate": name, "kind": settings["kind"],
                             "threshold": repr(detector.threshold)})
            if not trials.empty:
                mlflow.log_text(trials.to_csv(index=False), "study_trials.csv")
        log.info("Candidate %s: val PR-AUC %.4f, test PR-AUC %.4f (%.1f s)", name,
                 metrics["val_pr_auc"], metrics["test_pr_auc"], metrics["tuning_seconds"])
        results.append(CandidateResult(name, settings["kind"], run.info.run_id, detector,
                                       metrics, test_scores))
    return results


def _ranked(results: list[CandidateResult]) -> list[CandidateResult]:
    """Best first by validation PR-AUC: the test slice stays an unbiased estimate of the winner."""
    return sorted(results, key=lambda r: -r.metrics["val_pr_auc"])


def _baseline(results: list[CandidateResult]) -> CandidateResult:
    return next(r for r in results if r.kind == BASELINE_KIND)


LEADERBOARD_METRICS = (
    "val_pr_auc", "test_pr_auc", "test_f1", "test_precision", "test_recall", "test_roc_auc",
    "train_val_gap", "batch_pr_auc_spread", "fit_seconds", "tuning_seconds",
    "scoring_rows_per_second", "study_trials", "study_trials_pruned", "ood_test_pr_auc",
)


def build_leaderboard(results: list[CandidateResult]) -> pd.DataFrame:
    """One row per candidate, the winner first, with its lift over the rule baseline."""
    baseline = _baseline(results).metrics["test_pr_auc"]
    return pd.DataFrame([
        {"rank": rank, "candidate": r.name, "kind": r.kind,
         **{m: r.metrics.get(m, np.nan) for m in LEADERBOARD_METRICS},
         "test_pr_auc_lift_over_baseline": r.metrics["test_pr_auc"] - baseline,
         "ood_test_pr_auc_lift_over_rule": (r.metrics.get("ood_test_pr_auc", np.nan)
                                            - r.metrics.get("rule_ood_test_pr_auc", np.nan)),
         "threshold": r.detector.threshold, "run_id": r.run_id}
        for rank, r in enumerate(_ranked(results), start=1)
    ])


def plot_pr_curves(results: list[CandidateResult], frame: pd.DataFrame) -> Figure:
    y_test = frame.loc[frame["split"] == "test", "is_anomaly"].to_numpy()
    return pr_curves_figure({r.name: (y_test, r.test_scores) for r in _ranked(results)})


def plot_leaderboard(leaderboard: pd.DataFrame) -> Figure:
    return leaderboard_figure(leaderboard)


def register_winner(results: list[CandidateResult], frame: pd.DataFrame, tournament: dict
                    ) -> dict[str, Any]:
    """Log the winner's pyfunc and reference profile in its candidate run, register it as a new
    version of ``tournament.registered_model_name``, and summarise the tournament on the parent run.
    """
    winner, baseline = _ranked(results)[0], _baseline(results)
    train = frame[frame["split"] == "train"]
    with mlflow.start_run(run_id=winner.run_id, nested=True):
        train_scores = winner.detector.predict(None, train)["score"].to_numpy()
        segments = train[[c for c in SEGMENT_COLUMNS if c in train.columns]]
        mlflow.log_dict(build_reference_profile(train[winner.detector.features], train_scores,
                                                segments=segments),
                        "reference_profile.json")
        model_info = log_detector(winner.detector, train)
    name = tournament["registered_model_name"]
    version = mlflow.register_model(model_info.model_uri, name)
    mlflow.log_metrics({"test_pr_auc": winner.metrics["test_pr_auc"],
                        "baseline_test_pr_auc": baseline.metrics["test_pr_auc"],
                        **{m: winner.metrics[m] for m in ("ood_test_pr_auc",
                                                           "rule_ood_test_pr_auc")
                           if m in winner.metrics}})
    mlflow.set_tags({"winner": winner.name, "registered_model_version": version.version,
                     LABELS_MODE_TAG: labels_mode(tournament)})
    log.info("Winner %s registered as %s version %s", winner.name, name, version.version)
    return {
        "registered_model_name": name,
        "version": int(version.version),
        "candidate": winner.name,
        "run_id": winner.run_id,
        "test_pr_auc": winner.metrics["test_pr_auc"],
        "baseline_test_pr_auc": baseline.metrics["test_pr_auc"],
    }
