"""Promotion follows the challenger's labels mode (its run's ``labels_mode`` tag): the rows it
and the champion are judged on, and the lineage its run must hold."""

from __future__ import annotations

import pandas as pd
import pytest
from mlflow import MlflowClient

from financial_mlops.datasets.registry import Challenger
from financial_mlops.errors import UserError
from financial_mlops.lineage import injection_tags
from financial_mlops.pipelines.deployment import nodes
from financial_mlops.promotion.challenger import required_for_mode, run_evidence, run_items
from financial_mlops.sources.simulator.other_market import other_market
from tests.pipelines.deployment.conftest import MODEL
from tests.pipelines.deployment.contract_model import register_version
from tests.pipelines.features.conftest import load_features_params

INJECTION = {"seed": 7, "rate": 0.02, "anomaly_mix": None, "max_trades": 500000}
LABEL_LINEAGE = {"delta_version.anomaly_labels", "delta_version.silver_trades_existing",
                 "injection_seed", "injection_rate", "injection_mix", "injection_max_trades",
                 "test_start"}


def injected_run_tags(test_start: str) -> dict[str, str]:
    return {"labels_mode": "injected", "test_start": test_start,
            "delta_version.silver_trades_existing": "4", **injection_tags(INJECTION)}


def test_the_required_label_lineage_is_the_one_the_runs_mode_produces(params):
    required = params["deployment"]["required"]
    simulator = required_for_mode(required, "simulator")
    injected = required_for_mode(required, "injected")
    assert set(simulator["tags"]) & LABEL_LINEAGE == {"delta_version.anomaly_labels"}
    assert set(injected["tags"]) & LABEL_LINEAGE == LABEL_LINEAGE - {
        "delta_version.anomaly_labels"}
    for kind in ("params", "metrics", "artifacts"):
        assert simulator[kind] == injected[kind] == required[kind]
    with pytest.raises(UserError, match="has no entry for the challenger's labels mode 'guess'"):
        required_for_mode(required, "guess")
    with pytest.raises(UserError, match=r"unknown kinds \['labels'\]"):
        required_for_mode({**required, "labels": ["is_anomaly"]}, "simulator")


def test_an_injected_run_is_complete_without_an_anomaly_labels_version(
        registry, gold_and_labels, params):
    gold, labels = gold_and_labels
    client = MlflowClient()
    version = register_version(MODEL, gold, labels, omit=["tag delta_version.anomaly_labels"])
    required = params["deployment"]["required"]

    def missing() -> list[str]:
        return run_evidence(run_items(client, version), version.version, required)["missing"]

    # No labels_mode tag: a run from before the modes, trained on the simulator's labels.
    assert missing() == ["tag delta_version.anomaly_labels"]
    for tag, value in injected_run_tags("2026-01-05T15:00:00").items():
        client.set_tag(version.run_id, tag, value)
    assert missing() == []
    client.delete_tag(version.run_id, "injection_seed")
    client.delete_tag(version.run_id, "delta_version.silver_trades_existing")
    assert missing() == ["tag delta_version.silver_trades_existing", "tag injection_seed"]


@pytest.fixture(scope="module")
def market() -> pd.DataFrame:
    """A market the simulator did not make, as silver holds it."""
    return other_market(4000, seed=3)


def test_an_injected_challenger_is_judged_on_trades_it_never_saw_with_other_injected_prints(
        spark, market, params):
    silver = spark.createDataFrame(market)
    since = market["event_time"].iloc[3000]
    challenger = Challenger(MODEL, "2", {"run_id": "r", "tags": injected_run_tags(
        since.isoformat())})
    deployment = {**params["deployment"], "slice_rows": 800}
    rows = nodes.scoring_slice(None, None, silver, challenger, deployment,
                               load_features_params())

    real = rows[~rows["trade_id"].str.startswith("INJ-")]
    # The newest slice_rows silver trades, all at or after where the training data ended.
    assert set(real["trade_id"]) == set(market["trade_id"].iloc[-800:])
    injected = rows[rows["trade_id"].str.startswith("INJ-")]
    seed = params["deployment"]["injected"]["seed"]
    assert seed != INJECTION["seed"] and injected["trade_id"].str.startswith(f"INJ-{seed}-").all()
    assert rows["is_anomaly"].sum() == len(injected) >= 10
    assert (rows["event_time"] >= since).all() and rows["event_time"].is_monotonic_decreasing
    assert {c for c in rows if c.startswith("f_")} >= {"f_abs_price_z_20", "f_log_volume_z_100"}
    # Reproducible: the same rows and prints again; silver itself untouched.
    pd.testing.assert_frame_equal(rows, nodes.scoring_slice(
        None, None, silver, challenger, deployment, load_features_params()))
    assert silver.count() == len(market)

    lacking = Challenger(MODEL, "2", {"run_id": "r", "tags": {"labels_mode": "injected"}})
    with pytest.raises(UserError, match="lacks test_start, injection_rate"):
        nodes.scoring_slice(None, None, silver, lacking, deployment, load_features_params())
    later = Challenger(MODEL, "2", {"run_id": "r", "tags": injected_run_tags("2027-01-01")})
    with pytest.raises(UserError, match="no trade at or after 2027-01-01"):
        nodes.scoring_slice(None, None, silver, later, deployment, load_features_params())


def test_a_simulator_challenger_is_judged_on_labelled_gold_and_no_challenger_on_nothing(
        spark, gold_and_labels, scoring_slice, params):
    gold, labels = map(spark.createDataFrame, gold_and_labels)
    simulator = Challenger(MODEL, "2", {"run_id": "r", "tags": {}})
    rows = nodes.scoring_slice(gold, labels, None, simulator, params["deployment"], {})
    pd.testing.assert_frame_equal(rows, scoring_slice)  # the most recent labelled gold rows
    assert nodes.scoring_slice(gold, labels, None, None, params["deployment"], {}).empty
    guessed = Challenger(MODEL, "2", {"run_id": "r", "tags": {"labels_mode": "guessed"}})
    with pytest.raises(UserError, match="trained with labels 'guessed'"):
        nodes.scoring_slice(gold, labels, None, guessed, params["deployment"], {})
