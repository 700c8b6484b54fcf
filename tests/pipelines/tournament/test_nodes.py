"""The tournament nodes on small synthetic gold, with real Spark and real MLflow on SQLite."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from financial_mlops.errors import UserError
from financial_mlops.pipelines.tournament.nodes import (
    prepare_tournament_data,
)
from tests.pipelines.tournament.conftest import synthetic_gold, tiny_budget


@pytest.fixture(scope="module")
def gold_frames(spark, gold_and_labels):
    gold, labels = gold_and_labels
    return spark.createDataFrame(gold), spark.createDataFrame(labels)


def test_slices_are_ordered_in_time_and_share_no_timestamp(spark):
    gold, labels = synthetic_gold(n=1000)
    gold["event_time"] = gold["event_time"].dt.floor("10s")  # ten trades per timestamp
    frame, _ = prepare_tournament_data(spark.createDataFrame(gold), spark.createDataFrame(labels),
                                       tiny_budget())
    span = frame.groupby("split")["event_time"].agg(["min", "max"])
    assert span.loc["train", "max"] < span.loc["validation", "min"]
    assert span.loc["validation", "max"] < span.loc["test", "min"]
    assert frame["split"].value_counts().to_dict() == pytest.approx(
        {"train": 600, "validation": 200, "test": 200}, abs=10)
    assert len(frame) == 1000 and frame["trade_id"].is_unique


def test_features_are_every_f_column_and_the_rule_columns(gold_frames):
    params = tiny_budget()
    _, features = prepare_tournament_data(*gold_frames, params)
    assert features == ["f_abs_price_z_20", "f_log_volume_z_20", "f_venue_gap", "f_noise"]
    params["features"] = ["f_venue_gap"]
    _, features = prepare_tournament_data(*gold_frames, params)
    assert features == ["f_venue_gap", "f_abs_price_z_20", "f_log_volume_z_20"]


def _without_features(gold, labels):
    return gold.drop(columns=[c for c in gold if c.startswith("f_")]), labels


def _few_late_positives(gold, labels):
    late = gold["event_time"] > gold["event_time"].quantile(0.7)
    return gold, labels.assign(is_anomaly=np.where(late, 0, labels["is_anomaly"]))


def _unchanged(gold, labels):
    return gold, labels


# case: (change to the good data, parameter overrides, expected message)
BAD_INPUTS = {
    "empty gold": (lambda gold, labels: (gold.head(0), labels), {},
                   "gold_trade_features is empty"),
    "no feature column": (_without_features, {}, "has no feature columns (f_*)"),
    "missing feature": (lambda gold, labels: (gold.drop(columns=["f_noise"]), labels),
                        {"features": ["f_noise", "f_venue_gap"]},
                        "lacks the feature column(s) f_noise"),
    "missing rule column": (lambda gold, labels: (gold.drop(columns=["f_log_volume_z_20"]), labels),
                            {}, "lacks the feature column(s) f_log_volume_z_*"),
    "no labels": (lambda gold, labels: (gold, labels.head(0)), {},
                  "anomaly_labels has no label for any gold trade"),
    "labels of other trades": (
        lambda gold, labels: (gold, labels.assign(trade_id="X" + labels["trade_id"])), {},
        "anomaly_labels has no label for any gold trade"),
    "single class": (lambda gold, labels: (gold, labels.assign(is_anomaly=0)), {},
                     "are normal (is_anomaly=0): the tournament needs both"),
    "too few positives": (_few_late_positives, {}, "the test slice has 0 anomalies"),
    "unknown kind": (_unchanged, {"candidates": {"svm": {"kind": "svm"}}},
                     "has unknown kind 'svm'"),
    "bad split": (_unchanged, {"split": {"validation": 0.5, "test": 0.5}},
                  "tournament.split.validation and .test must be fractions"),
}


def _spark_frame(spark, frame: pd.DataFrame, original: pd.DataFrame):
    """Spark cannot infer the schema of an empty pandas frame: take the original's."""
    return spark.createDataFrame(frame) if len(frame) else spark.createDataFrame(original).limit(0)


@pytest.mark.parametrize("case", BAD_INPUTS, ids=list(BAD_INPUTS))
def test_bad_input_is_a_one_line_user_error(spark, gold_and_labels, case):
    make, overrides, message = BAD_INPUTS[case]
    gold, labels = make(*gold_and_labels)
    params = tiny_budget()
    params.update({k: v for k, v in overrides.items() if k != "candidates"})
    params["candidates"].update(overrides.get("candidates", {}))
    with pytest.raises(UserError) as error:
        prepare_tournament_data(_spark_frame(spark, gold, gold_and_labels[0]),
                                _spark_frame(spark, labels, gold_and_labels[1]), params)
    assert message in str(error.value)
    assert "\n" not in str(error.value)
