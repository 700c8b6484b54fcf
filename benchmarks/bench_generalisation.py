"""Will a model work on a market it never saw? Figures for docs/tournament.md.

Three settings, each scored by PR-AUC (average precision) beside the rule baseline (largest
|z-score| of price and log volume, ``parameters_tournament.yml``) on the same rows:

1. in-distribution: trained on the simulator's labelled market, tested on its later trades;
2. out-of-distribution: that model on ``other_market`` (other symbols, pennies to thousands,
   tick sizes, venue names, Zipf activity, heavy tails, volatility clustering), with anomalies
   injected by ``modeling.injected``;
3. injected labels (``tournament.labels=injected``): trained on the other market's first 60 %
   with anomalies injected by one seed, tested on its last 40 % injected by another seed.

Features are gold's own (``trade_features``); the model is a histogram gradient boosting with
fixed hyper-parameters (the tournament tunes its candidates; this isolates the data question).

    .venv/bin/python benchmarks/bench_generalisation.py [trades]
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pandas as pd
import yaml
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import average_precision_score

from financial_mlops.features import trade_features
from financial_mlops.modeling.candidates import MaxAbsZScore
from financial_mlops.modeling.injected import inject_anomalies
from financial_mlops.sources.simulator import simulate_batch
from financial_mlops.sources.simulator.other_market import other_market
from financial_mlops.spark import get_spark

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
REPO = Path(__file__).resolve().parents[1]
GOLD = yaml.safe_load((REPO / "conf/base/parameters_features.yml").read_text())["features"]["gold"]
RULE = yaml.safe_load((REPO / "conf/base/parameters_tournament.yml").read_text())[
    "tournament"]["candidates"]["rule_baseline"]["fixed"]["columns"]


def _gold(spark, trades: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    rows = spark.createDataFrame(trades.astype({"event_time": "datetime64[us]"}))
    gold = trade_features(rows, GOLD).toPandas()
    return gold.merge(labels[["trade_id", "is_anomaly"]], on="trade_id").sort_values(
        ["event_time", "trade_id"], ignore_index=True)


def _fit(train: pd.DataFrame, features: list[str]) -> HistGradientBoostingClassifier:
    model = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.1, max_leaf_nodes=31,
                                           l2_regularization=1.0, random_state=0)
    return model.fit(train[features], train["is_anomaly"])


def _scores(model, rule, test: pd.DataFrame, features: list[str]) -> tuple[float, float]:
    y = test["is_anomaly"]
    return (average_precision_score(y, model.predict_proba(test[features])[:, 1]),
            average_precision_score(y, -rule.score_samples(test[features])))


def main(trades: int = 100_000) -> None:
    spark = get_spark(yaml.safe_load((REPO / "conf/base/spark.yml").read_text()))
    started = time.perf_counter()
    sim, sim_labels, _ = simulate_batch(trades, seed=42)
    sim = sim.assign(event_time=pd.to_datetime(sim.pop("timestamp")).dt.tz_localize(None))
    sim_gold = _gold(spark, sim, sim_labels)
    features = [c for c in sim_gold if c.startswith("f_")]
    rule = MaxAbsZScore(RULE).fit(sim_gold[features])
    cut = int(len(sim_gold) * 0.6)
    sim_model = _fit(sim_gold.iloc[:cut], features)

    market = other_market(trades, seed=11)
    split = market["event_time"].iloc[int(len(market) * 0.6)]
    early, late = market[market.event_time < split], market[market.event_time >= split]
    train_rows, train_labels = inject_anomalies(early, rate=0.005, seed=1)
    test_rows, test_labels = inject_anomalies(late, rate=0.005, seed=2)
    other_train, other_test = (_gold(spark, train_rows, train_labels),
                               _gold(spark, test_rows, test_labels))
    own_model = _fit(other_train, features)

    figures = {
        "in-distribution (simulator, later trades)": _scores(sim_model, rule,
                                                              sim_gold.iloc[cut:], features),
        "out-of-distribution (simulator-trained, other market)": _scores(
            sim_model, rule, other_test, features),
        "injected labels (other market, seed 1 -> seed 2)": _scores(
            own_model, rule, other_test, features),
    }
    print(f"{trades:,} trades per market, {time.perf_counter() - started:.0f} s")
    print(f"{'setting':58s} {'model':>7s} {'rule':>7s} {'lift':>7s}")
    for name, (model_auc, rule_auc) in figures.items():
        print(f"{name:58s} {model_auc:7.3f} {rule_auc:7.3f} {model_auc - rule_auc:+7.3f}")
    print(f"test anomalies: other market {int(other_test.is_anomaly.sum())} of {len(other_test)}")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
