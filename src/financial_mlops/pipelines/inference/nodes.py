"""Inference nodes: score every new gold trade once, with the model that is champion right then.

New gold rows come one of two ways (docs/inference.md): locally, a stream of gold's Delta
change feed (gold rows are MERGEd, and a late trade recomputes the rows after it, which a plain
Delta stream refuses as a data update); on Databricks, where gold is a materialized view, a batch
of the rows that arrived past the inference watermark. Each micro-batch resolves
``name@champion`` in the registry (the ``deployed_champion@resolver`` dataset), loads that
version only when it changed, scores the batch on the workers and is MERGEd into
``anomaly_scores`` on ``trade_id`` insert-only: a trade keeps its first score, so a replayed
batch (after a kill, a lost checkpoint, a watermark not saved or a re-run) adds nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial

import pandas as pd
from mlflow.pyfunc import PyFuncModel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.functions import pandas_udf

from financial_mlops.datasets.delta import MicroBatchStream
from financial_mlops.datasets.registry import ChampionResolver
from financial_mlops.errors import UserError
from financial_mlops.features.gold import ARRIVAL
from financial_mlops.modeling.pyfunc import AnomalyDetector
from financial_mlops.modeling.scoring import detections, float_block
from financial_mlops.watermarks import arrived_after

MODES = ("availableNow", "continuous")
WATERMARK = "gold_arrived_at_micros"  # the latest gold arrival (`_ingested_at`) already scored
_PREDICTION = "score double, is_anomaly int"

logger = logging.getLogger(__name__)


def score_gold_changes(gold_changes: DataFrame, champion: ChampionResolver, watermark: dict,
                       inference: dict) -> tuple[MicroBatchStream, dict]:
    """The new gold rows, scored per micro-batch by the live champion (``champion`` resolves
    the alias again for every batch), with the trigger of ``inference.mode``; and the watermark
    to save after the scores. Fails (or waits, by parameter) when there is no champion yet.

    A stream of gold changes keeps its progress in its checkpoint: the watermark stays. A batch
    of gold is scored from the rows that arrived past the watermark, which moves past them."""
    trigger = _trigger(inference)
    scorer = ChampionScorer(champion)
    version = champion.wait_for_version(float(inference["wait_for_champion_seconds"]))
    _check_features(champion.model(version), version, gold_changes.columns)
    if gold_changes.isStreaming:
        return MicroBatchStream(gold_changes, scorer, trigger), dict(watermark)
    arrived, scored_to = arrived_after(gold_changes, ARRIVAL, watermark, WATERMARK)
    return MicroBatchStream(arrived, scorer, trigger), scored_to


def _trigger(inference: dict) -> str:
    mode = inference["mode"]
    if mode not in MODES:
        raise UserError(f"inference.mode '{mode}' is not one of {', '.join(MODES)}")
    if mode == "continuous":
        return f"processingTime={inference['trigger_interval']}"
    return "availableNow"


class ChampionScorer:
    """Scores a micro-batch with the version behind the champion alias when the batch runs, so
    a promotion or rollback takes effect at the next batch without a restart (a Spark UDF built
    once at start would keep the old model)."""

    def __init__(self, champion: ChampionResolver) -> None:
        self.champion = champion
        self.version: str | None = None

    def __call__(self, changes: DataFrame) -> DataFrame:
        version = self.champion.wait_for_version()
        if version != self.version:
            logger.info("Scoring with %s version %s (@%s)", self.champion.name, version,
                        self.champion.alias)
            self.version = version
        return score_trades(new_trade_rows(changes), self.champion.model(version), version)


def new_trade_rows(changes: DataFrame) -> DataFrame:
    """The trades a batch of gold's change feed brings for the first time: its inserts.

    Gold is MERGEd on ``trade_id``, so it inserts each trade once, and later recomputations
    (a late trade before it) are updates of a trade already scored, which the insert-only MERGE
    would drop anyway. Scoring the insert makes a trade's score the one of the features it
    arrived with, whatever the micro-batch boundaries. Only a filter: a streaming change-feed
    batch is a scan of already-read rows, so any extra pass over it (a check, a window) reads
    them all again. Plain gold rows (no change feed: gold read in batch on Databricks) are one
    row per trade already.
    """
    if "_change_type" not in changes.columns:
        return changes
    return changes.filter(F.col("_change_type") == "insert")


def score_trades(trades: DataFrame, model: PyFuncModel, model_version: str) -> DataFrame:
    """``anomaly_scores`` rows of ``trades``: the model runs on the workers over Arrow batches
    of its input columns only (the model travels with the task; Spark broadcasts it when big).
    A projection, so a query that needs only the keys (the MERGE's lowest event time) does
    not run the model."""
    features = _check_features(model, model_version, trades.columns)
    predict = pandas_udf(_predictor(model, features), _PREDICTION)
    return trades.select(
        "trade_id", "symbol", "event_time", predict(*features).alias("_prediction")
    ).select(
        "trade_id", "symbol", "event_time",
        F.col("_prediction.score").alias("score"),
        F.col("_prediction.is_anomaly").alias("is_anomaly"),
        F.lit(str(model_version)).alias("model_version"),
        F.current_timestamp().alias("scored_at"),
    )


def _check_features(model: PyFuncModel, version: str, columns: list[str]) -> list[str]:
    """The model's input columns (from its signature), all of which gold must have."""
    schema = model.metadata.get_input_schema()
    if schema is None:
        raise UserError(f"model version {version} has no input signature to score gold with")
    features = schema.input_names()
    missing = [name for name in features if name not in columns]
    if missing:
        raise UserError(f"model version {version} needs features that gold lacks: "
                        f"{', '.join(missing)}")
    return features


def _predictor(model: PyFuncModel, features: list[str]) -> Callable[..., pd.DataFrame]:
    """The pandas UDF: the model's scores of a batch, whose feature columns arrive one Series
    each (as one struct column, the workers spent about three times the in-process CPU in
    XGBoost's predict: docs/inference.md). For the project's ``AnomalyDetector`` the workers
    get its estimator, features and threshold with ``scoring.detections``, on one float64 block
    that the estimators read without another copy, not the pyfunc: unpickling that imports
    MLflow in every new Python worker (seconds of CPU before its first batch), and pyfunc's
    wrapper checks and converts every batch against the signature, which ``_check_features``
    did once for the stream and gold's doubles satisfy. Other flavours get pyfunc's ``predict``
    on the columns as they are."""
    detector = model.metadata.flavors.get("python_function", {}).get("loader_module") == (
        "mlflow.pyfunc.model") and model.unwrap_python_model()
    if isinstance(detector, AnomalyDetector):
        score = partial(detections, detector.estimator, detector.features, detector.threshold)
        frame = partial(float_block, features)
    else:
        score = partial(_pyfunc_detections, model)
        frame = partial(_as_columns, features)

    def predict(*columns: pd.Series) -> pd.DataFrame:  # the hints tell Spark the UDF's kind
        return score(frame(columns))

    return predict


def _as_columns(features: list[str], columns: tuple[pd.Series, ...]) -> pd.DataFrame:
    return pd.DataFrame(dict(zip(features, columns, strict=True)))


def _pyfunc_detections(model: PyFuncModel, features: pd.DataFrame) -> pd.DataFrame:
    prediction = model.predict(features)
    return pd.DataFrame({
        "score": prediction["score"].to_numpy(dtype="float64"),
        "is_anomaly": prediction["is_anomaly"].to_numpy(dtype="int32"),
    })
