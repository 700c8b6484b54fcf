"""Streaming inference, run for real: gold Delta change feed -> live @champion -> anomaly_scores."""

from __future__ import annotations

import shutil
import threading

import mlflow
import numpy as np
import pandas as pd
import pytest
from tests.pipelines.deployment.conftest import use_registry
from tests.pipelines.deployment.contract_model import register_version, synthetic_gold
from tests.pipelines.inference.conftest import CHECKPOINT, MODEL, gold_rows

from financial_mlops.errors import UserError
from financial_mlops.pipelines.inference.nodes import score_gold_changes
from financial_mlops.registry import load_version


def _expected_scores(rows, version: int) -> np.ndarray:
    model = mlflow.pyfunc.load_model(f"models:/{MODEL}/{version}")
    return model.predict(rows.filter(like="f_"))["score"].to_numpy()


def _scored_once(scores: pd.DataFrame) -> pd.DataFrame:
    """The scores by trade_id, after checking that no trade has two."""
    assert scores.trade_id.is_unique
    return scores.set_index("trade_id")


def test_every_gold_trade_is_scored_once_and_replays_add_nothing(scoring):
    first, second = gold_rows(600, seed=1), gold_rows(400, seed=2)
    scoring.add_gold(first)
    scoring.add_gold(second, files=3)
    scoring.promote(1)

    scoring.run()
    raw = scoring.scores()
    assert list(raw.columns) == [
        "trade_id", "symbol", "event_time", "score", "is_anomaly", "model_version", "scored_at"]
    scores = _scored_once(raw)
    assert len(scores) == 1000
    assert set(scores.model_version) == {"1"}
    assert scores.is_anomaly.isin([0, 1]).all() and scores.is_anomaly.sum() > 0
    gold = pd.concat([first, second])
    np.testing.assert_allclose(scores.loc[gold.trade_id, "score"], _expected_scores(gold, 1))

    # The same input again, then with the checkpoint lost (every batch replayed): nothing added,
    # every trade keeps its first score.
    for replay in ("re-run", "lost checkpoint"):
        if replay == "lost checkpoint":
            shutil.rmtree(scoring.path(CHECKPOINT))
        scoring.run()
        again = _scored_once(scoring.scores())
        assert len(again) == 1000, replay
        assert (again.scored_at == scores.loc[again.index, "scored_at"]).all(), replay


def test_recomputed_gold_rows_do_not_stop_the_stream_nor_double_scores(scoring):
    scoring.add_gold(gold_rows(500, seed=1))
    scoring.promote(1)
    scoring.run()
    first = scoring.scores().set_index("trade_id")

    # The features pipeline MERGEs gold: a late trade recomputes trades already scored (an update
    # commit), and a new trade can be inserted then recomputed before inference runs.
    recomputed = gold_rows(500, seed=1).head(100).assign(f_strong=9.0)
    new = gold_rows(200, seed=3)
    scoring.update_gold(pd.concat([recomputed, new]))
    latest = new.head(50).assign(f_strong=-9.0)
    scoring.update_gold(latest)
    scoring.run()

    scores = _scored_once(scoring.scores())
    assert len(scores) == scoring.gold_count() == 700
    # Already scored trades keep their first score; a new trade is scored on the features it
    # arrived with (its insert), not on a recomputation in the same micro-batch, so its score
    # does not depend on where micro-batches start.
    assert (scores.loc[first.index, "score"] == first.score).all()
    arrived = _expected_scores(new, 1)
    assert not np.allclose(arrived[:50], _expected_scores(latest, 1))
    np.testing.assert_allclose(scores.loc[new.trade_id, "score"], arrived)


def test_no_champion_is_one_clear_line(scoring):
    scoring.add_gold(gold_rows(50, seed=1))
    with pytest.raises(UserError, match="no version of model 'anomaly_detector' has the alias "
                                        "@champion") as error:
        scoring.run()
    assert "\n" not in str(error.value)
    assert not scoring.path("data/07_model_output/anomaly_scores").exists()


def test_waits_for_a_champion_when_asked(scoring):
    scoring.add_gold(gold_rows(50, seed=1))
    promotion = threading.Timer(2.0, scoring.promote, args=(2,))
    promotion.start()
    try:
        scoring.run(wait_for_champion_seconds=60)
    finally:
        promotion.cancel()
    assert set(scoring.scores().model_version) == {"2"}


def test_unknown_mode_is_a_user_error(spark):
    with pytest.raises(UserError, match="inference.mode 'sometimes' is not one of availableNow"):
        score_gold_changes(spark.range(1), None, {}, {"mode": "sometimes"})


def test_a_version_is_loaded_from_the_registry_in_use(scoring, migrated_registry, tmp_path):
    first = load_version(MODEL, "1")
    assert load_version(MODEL, "1") is first  # loaded once
    # Another registry (another env, a test's copy) has its own version 1 of the same name.
    use_registry(migrated_registry, tmp_path / "other.db", tmp_path / "other_artifacts")
    other = register_version(MODEL, *synthetic_gold(), feature="f_medium")
    assert str(other.version) == "1"
    assert load_version(MODEL, "1").metadata.run_id == other.run_id != first.metadata.run_id
