"""Every candidate is also scored on a market it never saw: the second simulated universe,
with anomalies injected by another seed, through gold's own features."""

from __future__ import annotations

import mlflow
import pandas as pd
import pytest

from financial_mlops.errors import UserError
from financial_mlops.features import trade_features
from financial_mlops.pipelines.tournament.nodes import (
    build_leaderboard,
    ood_market,
    prepare_tournament_data,
    run_tournament,
)
from financial_mlops.sources.simulator import SYMBOLS, simulate_batch
from tests.pipelines.features.conftest import load_features_params
from tests.pipelines.tournament.conftest import tiny_budget


def _params() -> dict:
    params = tiny_budget(2)
    for name in ("hist_gradient_boosting", "isolation_forest", "logistic_regression"):
        params["candidates"][name]["enabled"] = False
    params["ood"] = {"trades": 3000, "seed": 11, "injection_seed": 13, "rate": 0.02}
    return params


@pytest.fixture(scope="module")
def simulated_gold(spark):
    trades, labels, _ = simulate_batch(4000, seed=5, anomaly_rate=0.03)
    rows = spark.createDataFrame(trades.assign(
        event_time=pd.to_datetime(trades.pop("timestamp")).dt.tz_localize(None)))
    return trade_features(rows, load_features_params()["gold"]), spark.createDataFrame(labels)


def test_every_candidate_and_the_rule_are_scored_on_the_other_market(mlflow_sqlite,
                                                                      simulated_gold):
    gold, labels = simulated_gold
    params = _params()
    frame, features = prepare_tournament_data(gold, labels, params)
    ood = ood_market(gold, params, load_features_params())
    assert ood["is_anomaly"].sum() > 20 and not set(ood.symbol) & set(SYMBOLS)
    with mlflow.start_run():
        results = run_tournament(frame, features, params, ood)
    rule = next(r for r in results if r.kind == "rule_baseline")
    for result in results:
        assert 0 < result.metrics["ood_test_pr_auc"] <= 1
        logged = mlflow.get_run(result.run_id).data.metrics
        assert logged["rule_ood_test_pr_auc"] == rule.metrics["ood_test_pr_auc"]
    board = build_leaderboard(results)
    assert (board["ood_test_pr_auc_lift_over_rule"]
            == board["ood_test_pr_auc"] - rule.metrics["ood_test_pr_auc"]).all()


def test_no_market_when_switched_off_and_a_clear_error_for_foreign_features(simulated_gold):
    gold, _ = simulated_gold
    params = _params()
    assert ood_market(gold, {**params, "ood": {"trades": 0}}, load_features_params()).empty
    frame = pd.DataFrame({"f_abs_price_z_20": [0.0], "is_anomaly": [0]})
    with pytest.raises(UserError, match="out-of-distribution market has no f_venue_gap"):
        run_tournament(frame.assign(split="train"), ["f_venue_gap"], params, frame)
