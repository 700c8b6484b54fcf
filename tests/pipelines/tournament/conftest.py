"""Small synthetic gold frames with planted anomalies, and a tiny tournament budget."""

from __future__ import annotations

import copy
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
PARAMS = yaml.safe_load((REPO / "conf/base/parameters_tournament.yml").read_text())["tournament"]


def synthetic_gold(n: int = 3000, anomaly_rate: float = 0.05, seed: int = 0
                   ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Gold rows and their labels, one trade a second.

    Half of the anomalies are price or volume outliers (the rule baseline sees them); the other
    half hide in a feature the rule ignores (``f_venue_gap``), so a learnt model beats the rule.
    """
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < anomaly_rate).astype(int)
    price_z, volume_z, venue_gap, noise = rng.normal(size=(4, n))
    anomalies = np.flatnonzero(y)
    loud, quiet = anomalies[::2], anomalies[1::2]
    price_loud, volume_loud = loud[::2], loud[1::2]
    price_z[price_loud] += rng.choice([-1, 1], len(price_loud)) * rng.uniform(4, 8, len(price_loud))
    volume_z[volume_loud] += rng.uniform(4, 8, len(volume_loud))
    venue_gap[quiet] += rng.uniform(3, 6, len(quiet))
    trade_id = [f"T{i:06d}" for i in range(n)]
    gold = pd.DataFrame({
        "trade_id": trade_id,
        "symbol": rng.choice(["AAPL", "MSFT"], n),
        "exchange": "XNAS",
        "event_time": pd.date_range("2026-01-05 14:30", periods=n, freq="s"),
        "price": 100 + price_z,
        "volume": 100 + 10 * np.abs(volume_z),
        "f_abs_price_z_20": np.abs(price_z),
        "f_log_volume_z_20": volume_z,
        "f_venue_gap": venue_gap,
        "f_noise": noise,
    })
    labels = pd.DataFrame({"trade_id": trade_id, "is_anomaly": y.astype("int32"),
                           "anomaly_type": np.where(y == 1, "planted", None)})
    return gold, labels


def tiny_budget(trials: int = 3) -> dict:
    """The default tournament parameters with a few trials per candidate and small slices."""
    params = copy.deepcopy(PARAMS)
    # The synthetic gold's features are not gold's: no out-of-distribution market to score.
    params["ood"] = {**params["ood"], "trades": 0}
    params.update(registered_model_name="anomaly_detector", min_positives=5, threads=1,
                  stability_batches=3, pruner={"n_startup_trials": 2, "n_warmup_steps": 5})
    for settings in params["candidates"].values():
        if settings.get("search_space"):
            settings.update(n_trials=trials, timeout_seconds=120)
    params["candidates"]["xgboost"]["fixed"]["n_estimators"] = 60
    params["candidates"]["isolation_forest"]["search_space"].update(
        n_estimators={"low": 20, "high": 60}, max_samples={"low": 64, "high": 1024, "log": True})
    return params


@pytest.fixture(scope="module")
def gold_and_labels():
    return synthetic_gold()


@pytest.fixture(scope="module")
def mlflow_sqlite(tmp_path_factory):
    """A real MLflow tracking server and registry in a SQLite file, for node-level tests."""
    previous = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    folder = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{folder}/mlflow.db"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    # Not the experiment id a Kedro run left active; artifacts beside the database, not in the
    # default ./mlruns of wherever pytest was started.
    mlflow.set_experiment(experiment_id=mlflow.create_experiment(
        "tournament_tests", artifact_location=(folder / "artifacts").as_uri()))
    yield uri
    mlflow.set_tracking_uri(previous[0])
    mlflow.set_registry_uri(previous[1])
