"""Inference nodes: score every new gold trade once, with the model that is champion right then.

Gold is read as a stream of its Delta change feed (gold rows are MERGEd, and a late trade
recomputes the rows after it, which a plain Delta stream refuses as a data update). Each
micro-batch resolves ``name@champion`` in the registry, loads that version only when it changed,
scores the batch on the workers and is MERGEd into ``anomaly_scores`` on ``trade_id``
insert-only: a trade keeps its first score, so a replayed batch (after a kill, a lost checkpoint
or a re-run) adds nothing.
"""

from __future__ import annotations

import logging
import time

import mlflow
import pandas as pd
from mlflow.pyfunc import PyFuncModel
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.functions import pandas_udf

from financial_mlops.datasets.delta import MicroBatchStream
from financial_mlops.errors import UserError
from financial_mlops.registry import alias_version, load_version

MODES = ("availableNow", "continuous")
_PREDICTION = "score double, is_anomaly int"
_POLL_SECONDS = 5.0

logger = logging.getLogger(__name__)


def score_gold_changes(gold_changes: DataFrame, inference: dict,
                       after: object = None) -> MicroBatchStream:
    """The stream of gold changes, scored per micro-batch by the live champion, with the trigger
    of ``inference.mode``. Fails (or waits, by parameter) when there is no champion yet.
    ``after`` is only the record of a stage that must run first (see ``create_pipeline``)."""
    trigger = _trigger(inference)
    scorer = ChampionScorer(inference["registered_model_name"], inference["alias"])
    version = scorer.wait_for_version(float(inference["wait_for_champion_seconds"]))
    _check_features(load_version(scorer.name, version), version, gold_changes.columns)
    return MicroBatchStream(gold_changes, scorer, trigger)


def _trigger(inference: dict) -> str:
    mode = inference["mode"]
    if mode not in MODES:
        raise UserError(f"inference.mode '{mode}' is not one of {', '.join(MODES)}")
    if mode == "continuous":
        return f"processingTime={inference['trigger_interval']}"
    return "availableNow"


class ChampionScorer:
    """Scores a micro-batch with the version behind ``name@alias`` when the batch runs, so a
    promotion or rollback takes effect at the next batch without a restart (a Spark UDF built
    once at start would keep the old model)."""

    def __init__(self, name: str, alias: str) -> None:
        self.name, self.alias = name, alias
        self.version: str | None = None
        # Resolved on the driver: on serverless a micro-batch runs in another Python process,
        # which has none of the MLflow settings kedro-mlflow made here.
        self.uris = mlflow.get_tracking_uri(), mlflow.get_registry_uri()

    def wait_for_version(self, seconds: float = 0.0) -> str:
        """The version behind the alias now, polling up to ``seconds`` while there is none."""
        deadline = time.monotonic() + seconds
        while (found := alias_version(self.name, self.alias)) is None:
            left = deadline - time.monotonic()
            if left <= 0:
                waited = f" after waiting {seconds:g} s" if seconds else ""
                raise UserError(
                    f"no version of model '{self.name}' has the alias @{self.alias}{waited}: "
                    "train and promote one first (kedro run --pipelines retraining), or set "
                    "inference.wait_for_champion_seconds to wait for one")
            logger.info("No @%s for %s yet, waiting (%.0f s left)", self.alias, self.name, left)
            time.sleep(min(_POLL_SECONDS, left))
        return found.version

    def __call__(self, changes: DataFrame) -> DataFrame:
        if (mlflow.get_tracking_uri(), mlflow.get_registry_uri()) != self.uris:
            mlflow.set_tracking_uri(self.uris[0])
            mlflow.set_registry_uri(self.uris[1])
        version = self.wait_for_version()
        if version != self.version:
            logger.info("Scoring with %s version %s (@%s)", self.name, version, self.alias)
            self.version = version
        return score_trades(latest_trade_rows(changes), load_version(self.name, version), version)


def latest_trade_rows(changes: DataFrame) -> DataFrame:
    """One row per trade from a batch of gold's change feed: inserts and update post-images,
    the latest when a trade was inserted and then recomputed within the batch.

    A batch of inserts only (the usual case) is taken as it is: gold is MERGEd on ``trade_id``,
    so it inserts a trade once, and the sort that picks the latest row is the costliest step.
    Plain gold rows (no change feed: a materialized view read in batch on Databricks) are one
    row per trade already.
    """
    if "_change_type" not in changes.columns:
        return changes
    rows = changes.filter(F.col("_change_type").isin("insert", "update_postimage"))
    if changes.filter(F.col("_change_type") != "insert").isEmpty():
        return rows
    newest_first = Window.partitionBy("trade_id").orderBy(F.col("_commit_version").desc())
    return rows.withColumn("_rank", F.row_number().over(newest_first)).filter(F.col("_rank") == 1)


def score_trades(trades: DataFrame, model: PyFuncModel, model_version: str) -> DataFrame:
    """``anomaly_scores`` rows of ``trades``: the model runs on the workers over Arrow batches
    of its input columns only (the model travels with the task; Spark broadcasts it when big)."""
    features = _check_features(model, model_version, trades.columns)
    predict = pandas_udf(_predictor(model), _PREDICTION)
    return trades.select(
        "trade_id", "symbol", "event_time", predict(F.struct(*features)).alias("_prediction")
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


def _predictor(model: PyFuncModel):
    def predict(features: pd.DataFrame) -> pd.DataFrame:
        prediction = model.predict(features)
        return pd.DataFrame({
            "score": prediction["score"].to_numpy(dtype="float64"),
            "is_anomaly": prediction["is_anomaly"].to_numpy(dtype="int32"),
        })

    return predict
