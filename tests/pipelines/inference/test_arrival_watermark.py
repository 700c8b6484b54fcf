"""Scoring as on Databricks, where gold is a materialized view: a batch read of the gold rows
that arrived past the inference watermark, MERGEd into anomaly_scores, then the watermark moved.
Run through Kedro for real (the save order of the node's outputs is part of what is proven)."""

from __future__ import annotations

import json

import pandas as pd
from tests.pipelines.inference.conftest import gold_rows

from financial_mlops.pipelines.inference.nodes import WATERMARK

# conf/base/catalog_inference.yml's Databricks reading of gold, on the local path.
BATCH_GOLD = """
gold_trade_features@changes:
  type: financial_mlops.datasets.DeltaDataset
  path: data/04_feature/gold_trade_features
"""
STATE = "data/07_model_output/_state/inference_watermark.json"


def _arrived(rows: pd.DataFrame, at: str) -> pd.DataFrame:
    return rows.assign(_ingested_at=pd.Timestamp(at))


def _micros(at: str) -> int:
    return int(pd.Timestamp(at).value // 1000)


def test_batch_gold_is_scored_past_the_watermark_once_over_reruns_and_late_rows(scoring):
    (scoring.project.conf / "local" / "catalog_batch_gold.yml").write_text(BATCH_GOLD)
    state = scoring.path(STATE)
    first = gold_rows(300, seed=1)
    scoring.add_gold(_arrived(first, "2026-01-05 15:00"))
    scoring.promote(1)

    scoring.run()
    scores = scoring.scores().set_index("trade_id")
    assert sorted(scores.index) == sorted(first.trade_id)
    assert json.loads(state.read_text()) == {WATERMARK: _micros("2026-01-05 15:00")}

    # A crash after the MERGE, before the watermark was saved: the rerun reads the same rows
    # and the insert-only MERGE keeps the first score of each.
    state.write_text("{}")
    scoring.run()
    again = scoring.scores().set_index("trade_id")
    assert again.index.is_unique and len(again) == 300
    assert (again.scored_at == scores.loc[again.index, "scored_at"]).all()

    # Late trades (event times before every scored one) arrive later, while version 2 has
    # become champion: scored, by version 2; the rows already scored are not read again.
    late = gold_rows(100, seed=2).assign(event_time=lambda f: f.event_time - pd.Timedelta("1D"))
    scoring.add_gold(_arrived(late, "2026-01-05 16:00"))
    scoring.promote(2)
    scoring.run()
    scores = scoring.scores().set_index("trade_id")
    assert scores.index.is_unique and len(scores) == 400
    assert set(scores.loc[late.trade_id, "model_version"]) == {"2"}
    assert set(scores.loc[first.trade_id, "model_version"]) == {"1"}
    assert json.loads(state.read_text()) == {WATERMARK: _micros("2026-01-05 16:00")}

    # Nothing arrived: nothing scored, the watermark stays.
    scoring.run()
    assert len(scoring.scores()) == 400
    assert json.loads(state.read_text()) == {WATERMARK: _micros("2026-01-05 16:00")}
