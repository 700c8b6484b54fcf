"""Tuning, evaluation, nested MLflow runs and the servable pyfunc, on small synthetic gold."""

from __future__ import annotations

import subprocess
import sys

import mlflow
import numpy as np
import pandas as pd
import pytest
from pyspark import cloudpickle
from threadpoolctl import threadpool_limits

from financial_mlops.modeling.candidates import fit_candidate
from financial_mlops.modeling.metrics import batch_pr_auc_spread, best_f1_threshold
from financial_mlops.modeling.pyfunc import AnomalyDetector, log_detector
from financial_mlops.modeling.tuning import tune
from financial_mlops.pipelines.inference.nodes import _predictor
from financial_mlops.pipelines.tournament.nodes import (
    build_leaderboard,
    prepare_tournament_data,
    run_tournament,
    slices_of,
)
from tests.pipelines.tournament.conftest import tiny_budget

TIMINGS = ["fit_seconds", "tuning_seconds", "scoring_rows_per_second", "run_id"]


@pytest.fixture(scope="module")
def tournament_data(spark, gold_and_labels):
    gold, labels = gold_and_labels
    return prepare_tournament_data(spark.createDataFrame(gold), spark.createDataFrame(labels),
                                   tiny_budget())


def _tournament(frame, features, params):
    with mlflow.start_run() as parent:
        results = run_tournament(frame, features, params)
    return parent.info.run_id, results


@pytest.fixture(scope="module")
def two_tournaments(mlflow_sqlite, tournament_data):
    """Two runs of the same tournament on the same data and seed."""
    return [_tournament(*tournament_data, tiny_budget()) for _ in range(2)]


def test_same_data_and_seed_give_the_same_winner_and_metrics(two_tournaments):
    first, second = (build_leaderboard(results).drop(columns=TIMINGS)
                     for _, results in two_tournaments)
    pd.testing.assert_frame_equal(first, second)


def test_a_learnt_model_beats_the_rule_on_planted_signal(two_tournaments):
    board = build_leaderboard(two_tournaments[0][1])
    assert board["kind"].iloc[0] != "rule_baseline"
    by_kind = board.set_index("kind")
    assert by_kind.loc["xgboost", "test_pr_auc"] >= 0.9
    assert by_kind.loc["xgboost", "test_pr_auc_lift_over_baseline"] >= 0.2
    assert by_kind.loc["rule_baseline", "test_pr_auc"] < 0.7  # it misses the quiet half


def test_every_candidate_has_a_nested_run_with_its_tuned_params(two_tournaments):
    parent, results = two_tournaments[0]
    assert [r.name for r in results] == list(tiny_budget()["candidates"])
    for result in results:
        run = mlflow.get_run(result.run_id)
        assert run.data.tags["mlflow.parentRunId"] == parent
        assert run.data.params["candidate"] == result.name
        assert float(run.data.tags["threshold"]) == result.detector.threshold
        assert run.data.metrics["val_pr_auc"] == result.metrics["val_pr_auc"]
    xgboost_run = mlflow.get_run(results[0].run_id)
    assert {"max_depth", "learning_rate", "device"} <= set(xgboost_run.data.params)
    assert xgboost_run.data.metrics["study_trials"] == 3


def test_disabled_candidates_do_not_run(mlflow_sqlite, tournament_data):
    params = tiny_budget()
    for name in ("xgboost", "hist_gradient_boosting", "isolation_forest"):
        params["candidates"][name]["enabled"] = False
    _, results = _tournament(*tournament_data, params)
    assert [r.name for r in results] == ["logistic_regression", "rule_baseline"]


def test_boosting_trials_below_the_median_are_pruned(tournament_data):
    frame, features = tournament_data
    settings = {**tiny_budget(8)["candidates"]["hist_gradient_boosting"]}
    with threadpool_limits(1):
        tuned = tune("hist_gradient_boosting", settings, slices_of(frame, features), seed=1,
                     pruner={"n_startup_trials": 1, "n_warmup_steps": 0})
    states = [t.state.name for t in tuned.study.trials]
    assert states.count("PRUNED") >= 1 and "COMPLETE" in states
    assert tuned.params["max_iter"] == tuned.study.best_params["max_iter"]


@pytest.mark.parametrize("kind", ["isolation_forest", "rule_baseline"])
def test_registered_pyfunc_returns_a_continuous_score_and_the_flag(
        mlflow_sqlite, tournament_data, kind):
    frame, features = tournament_data
    settings = tiny_budget()["candidates"][kind]
    model = fit_candidate(kind, settings["fixed"], slices_of(frame, features), seed=0)
    detector = AnomalyDetector(model, features, threshold=0.0)
    detector.threshold = float(np.quantile(detector.predict(None, frame)["score"], 0.95))
    with mlflow.start_run():
        info = log_detector(detector, frame)
    # Extra columns (keys, label) are allowed: the model takes the features it was trained on.
    scored = mlflow.pyfunc.load_model(info.model_uri).predict(frame)
    assert list(scored.columns) == ["score", "is_anomaly"]
    assert scored["score"].dtype == float and scored["score"].nunique() > len(frame) // 2
    assert scored["is_anomaly"].dtype == "int32"
    assert (scored["is_anomaly"] == (scored["score"] >= detector.threshold)).all()
    assert 0.03 < scored["is_anomaly"].mean() < 0.07
    assert info.signature.inputs.input_names() == features
    assert info.signature.outputs.input_names() == ["score", "is_anomaly"]


def test_threshold_maximises_f1_on_the_given_scores():
    y = np.array([0, 0, 1, 1])
    # F1 at 0.35 (flags 0,1,1,1) is 0.8, above 0.8 (0.67), 0.4 (0.5) and 0.1 (0.67).
    assert best_f1_threshold(y, np.array([0.1, 0.4, 0.35, 0.8])) == 0.35


def test_batch_spread_is_the_std_of_pr_auc_over_time_chunks():
    y = np.array([0, 1, 0, 1, 0, 1])
    perfect, inverted = [0, 1], [1, 0]
    scores = np.array(perfect + perfect + inverted, dtype=float)
    assert batch_pr_auc_spread(y, scores, 3) == pytest.approx(np.std([1.0, 1.0, 0.5]))
    assert np.isnan(batch_pr_auc_spread(np.array([0, 0, 0, 1]), np.arange(4.0), 2))


def test_the_registered_model_loads_where_the_project_is_not_installed(
        mlflow_sqlite, tournament_data, tmp_path):
    """Outside the job environment (a notebook, model serving) nothing installs the wheel: the
    model brings the ``financial_mlops`` code it unpickles."""
    frame, features = tournament_data
    settings = tiny_budget()["candidates"]["rule_baseline"]
    model = fit_candidate("rule_baseline", settings["fixed"], slices_of(frame, features), seed=0)
    with mlflow.start_run():
        info = log_detector(AnomalyDetector(model, features, threshold=0.0), frame)
    local = mlflow.artifacts.download_artifacts(info.model_uri, dst_path=str(tmp_path / "model"))
    frame.head(20).to_parquet(tmp_path / "rows.parquet")
    script = (
        "import sys; sys.path = [p for p in sys.path if not p.endswith('/src')]\n"
        "import importlib.util; assert importlib.util.find_spec('financial_mlops') is None\n"
        "import mlflow, pandas as pd\n"
        f"model = mlflow.pyfunc.load_model({local!r})\n"
        f"print(len(model.predict(pd.read_parquet({str(tmp_path / 'rows.parquet')!r}))))\n"
        "import financial_mlops; print(financial_mlops.__file__)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=False, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    rows, origin = done.stdout.split()[-2:]
    assert rows == "20" and origin.startswith(local), done.stdout


class _SymbolModel(mlflow.pyfunc.PythonModel):
    """A model of another kind than the project's, with a text input."""

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        score = (model_input["symbol"] == "AAPL").astype("float64") + model_input["f_x"]
        return pd.DataFrame({"score": score, "is_anomaly": (score > 1).astype("int32")})


def test_spark_workers_give_another_flavour_its_columns_as_they_are(mlflow_sqlite):
    rows = pd.DataFrame({"symbol": ["AAPL", "MSFT"], "f_x": [0.5, 2.0]})
    with mlflow.start_run():
        info = mlflow.pyfunc.log_model(name="model", python_model=_SymbolModel(),
                                       input_example=rows)
    predict = _predictor(mlflow.pyfunc.load_model(info.model_uri), ["symbol", "f_x"])
    scores = predict(rows["symbol"].rename("_0"), rows["f_x"].rename("_1"))
    assert scores["score"].tolist() == [1.5, 2.0]
    assert scores["is_anomaly"].tolist() == [1, 1]


def test_spark_workers_score_a_project_model_without_importing_mlflow(
        mlflow_sqlite, tournament_data, tmp_path):
    """Inference sends Spark's Python workers the estimator, not the pyfunc: a new worker would
    otherwise import MLflow (seconds of CPU) before its first batch. Same scores either way."""
    frame, features = tournament_data
    settings = tiny_budget()["candidates"]["xgboost"]
    model = fit_candidate("xgboost", settings["fixed"], slices_of(frame, features), seed=0)
    detector = AnomalyDetector(model, features, threshold=0.0)
    detector.threshold = float(np.quantile(detector.predict(None, frame)["score"], 0.9))
    with mlflow.start_run():
        info = log_detector(detector, frame)
    predict = _predictor(mlflow.pyfunc.load_model(info.model_uri), features)
    (tmp_path / "predict.pkl").write_bytes(cloudpickle.dumps(predict))
    frame[features].head(200).to_parquet(tmp_path / "rows.parquet")
    script = (  # what a Spark Python worker does: unpickle, then call it with one Series a column
        "import pickle, sys, pandas as pd\n"
        "predict = pickle.loads(open('predict.pkl', 'rb').read())\n"
        "rows = pd.read_parquet('rows.parquet')\n"
        "predict(*(rows[c] for c in rows.columns)).to_parquet('scores.parquet')\n"
        "print([m for m in sys.modules if m.split('.')[0] == 'mlflow'])\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=False, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split("\n")[-2] == "[]", done.stdout
    scores = pd.read_parquet(tmp_path / "scores.parquet")
    expected = detector.predict(None, frame.head(200))
    np.testing.assert_allclose(scores["score"], expected["score"])
    assert (scores["is_anomaly"].to_numpy() == expected["is_anomaly"].to_numpy()).all()
    assert scores["is_anomaly"].dtype == "int32" and expected["is_anomaly"].sum() > 0
