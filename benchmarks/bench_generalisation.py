"""Will a model work on a market it never saw? Figures for docs/tournament.md.

Three settings, each scored by PR-AUC (average precision) beside the rule baseline (largest
|z-score| of price and log volume, ``parameters_tournament.yml``) on the same rows:

1. in-distribution: trained on the simulator's labelled market, tested on its later trades;
2. out-of-distribution: that model on ``other_market`` (other symbols, pennies to thousands,
   tick sizes, venue names, Zipf activity, heavy tails, volatility clustering), with anomalies
   injected by ``modeling.injected``;
3. injected labels (``tournament.labels=injected``): trained on the other market's first 60 %
   with anomalies injected by one seed, tested on its last 40 % injected by another seed.

Then PR-AUC per anomaly kind (that kind's prints against all normal trades) for settings 2
and 3: which kinds a model misses where the rule does not.

Features are gold's own (``trade_features``); the model is a histogram gradient boosting with
fixed hyper-parameters (the tournament tunes its candidates; this isolates the data question).

    .venv/bin/python benchmarks/bench_generalisation.py [trades] [--simulator-seed 42]
        [--market-seed 11] [--train-seed 1] [--test-seed 2]
"""

from __future__ import annotations

import argparse
import os
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
from financial_mlops.sources.simulator.anomalies import ANOMALY_KINDS
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
    return gold.merge(labels[["trade_id", "is_anomaly", "anomaly_type"]], on="trade_id"
                      ).sort_values(["event_time", "trade_id"], ignore_index=True)


def _fit(train: pd.DataFrame, features: list[str]) -> HistGradientBoostingClassifier:
    model = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.1, max_leaf_nodes=31,
                                           l2_regularization=1.0, random_state=0)
    return model.fit(train[features], train["is_anomaly"])


def _scored(model, rule, test: pd.DataFrame, features: list[str]) -> pd.DataFrame:
    return test[["is_anomaly", "anomaly_type"]].assign(
        model=model.predict_proba(test[features])[:, 1],
        rule=-rule.score_samples(test[features]))


def _pr_aucs(scored: pd.DataFrame) -> tuple[float, float]:
    return tuple(average_precision_score(scored["is_anomaly"], scored[s])
                 for s in ("model", "rule"))


def _by_kind(scored: pd.DataFrame) -> dict[str, tuple[int, float, float]]:
    """Per kind: (its prints, model's and rule's PR-AUC on them against all normal trades)."""
    normal = scored["is_anomaly"] == 0
    figures = {}
    for kind in ANOMALY_KINDS:
        rows = scored[normal | (scored["anomaly_type"] == kind)]
        if rows["is_anomaly"].any():
            figures[kind] = (int(rows["is_anomaly"].sum()), *_pr_aucs(rows))
    return figures


def main(trades: int, simulator_seed: int, market_seed: int, train_seed: int,
         test_seed: int) -> None:
    spark = get_spark(yaml.safe_load((REPO / "conf/base/spark.yml").read_text()))
    started = time.perf_counter()
    sim, sim_labels, _ = simulate_batch(trades, seed=simulator_seed)
    sim = sim.assign(event_time=pd.to_datetime(sim.pop("timestamp")).dt.tz_localize(None))
    sim_gold = _gold(spark, sim, sim_labels)
    features = [c for c in sim_gold if c.startswith("f_")]
    rule = MaxAbsZScore(RULE).fit(sim_gold[features])
    cut = int(len(sim_gold) * 0.6)
    sim_model = _fit(sim_gold.iloc[:cut], features)

    market = other_market(trades, seed=market_seed)
    split = market["event_time"].iloc[int(len(market) * 0.6)]
    early, late = market[market.event_time < split], market[market.event_time >= split]
    train_rows, train_labels = inject_anomalies(early, rate=0.005, seed=train_seed)
    test_rows, test_labels = inject_anomalies(late, rate=0.005, seed=test_seed)
    other_train, other_test = (_gold(spark, train_rows, train_labels),
                               _gold(spark, test_rows, test_labels))
    own_model = _fit(other_train, features)

    ood, own = (_scored(sim_model, rule, other_test, features),
                _scored(own_model, rule, other_test, features))
    figures = {
        "in-distribution (simulator, later trades)": _pr_aucs(
            _scored(sim_model, rule, sim_gold.iloc[cut:], features)),
        "out-of-distribution (simulator-trained, other market)": _pr_aucs(ood),
        f"injected labels (other market, seed {train_seed} -> seed {test_seed})": _pr_aucs(own),
    }
    print(f"{trades:,} trades per market (simulator seed {simulator_seed}, other market seed "
          f"{market_seed}), {time.perf_counter() - started:.0f} s")
    print(f"{'setting':58s} {'model':>7s} {'rule':>7s} {'lift':>7s}")
    for name, (model_auc, rule_auc) in figures.items():
        print(f"{name:58s} {model_auc:7.3f} {rule_auc:7.3f} {model_auc - rule_auc:+7.3f}")
    print(f"test anomalies: other market {int(other_test.is_anomaly.sum())} of {len(other_test)}")
    print(f"\nPR-AUC per kind on the other market's test rows (training prints of the kind: "
          f"simulator / injected)\n{'kind':18s} {'prints':>6s} {'OOD model':>9s} "
          f"{'injected model':>14s} {'rule':>6s} {'trained on':>12s}")
    sim_train, inj_train = sim_gold.iloc[:cut], other_train
    own_kinds = _by_kind(own)
    for kind, (prints, model_auc, rule_auc) in _by_kind(ood).items():
        seen = (f"{(sim_train.anomaly_type == kind).sum()} / "
                f"{(inj_train.anomaly_type == kind).sum()}")
        print(f"{kind:18s} {prints:6d} {model_auc:9.3f} {own_kinds[kind][1]:14.3f} "
              f"{rule_auc:6.3f} {seen:>12s}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("trades", type=int, nargs="?", default=100_000)
    parser.add_argument("--simulator-seed", type=int, default=42)
    parser.add_argument("--market-seed", type=int, default=11)
    parser.add_argument("--train-seed", type=int, default=1)
    parser.add_argument("--test-seed", type=int, default=2)
    args = parser.parse_args()
    main(args.trades, args.simulator_seed, args.market_seed, args.train_seed, args.test_seed)
