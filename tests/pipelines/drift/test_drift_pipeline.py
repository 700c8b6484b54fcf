"""The drift pipeline run for real (Delta, SQLite registry, kedro-mlflow) on a registered
contract champion: the window of what arrived, segments, unseen symbols, nothing new; what it
records, reports and logs, and its one-line errors."""

from __future__ import annotations

import copy

import mlflow
import pandas as pd
import pytest
import yaml
from kedro.framework.session import KedroSession
from matplotlib.image import imread

from financial_mlops.datasets.registry import Champion
from financial_mlops.errors import UserError
from financial_mlops.pipelines.drift.nodes import check_drift, select_window
from financial_mlops.pipelines.drift.report import summary_markdown
from tests.pipelines.deployment.contract_model import FEATURES, synthetic_gold
from tests.pipelines.drift.conftest import DRIFT_METRICS, TRIGGERS

PARAMS = {"drift": {"window": {"max_rows": 20000}, "min_window_rows": 500,
                    "segments": {"min_rows": 500}}}
NO_RETRAINING = {"retraining_job": {"type": "MemoryDataset"},
                 "retraining_job_status": {"type": "MemoryDataset",
                                           "data": {"active_runs": []}}}


@pytest.fixture
def quiet_retraining(project):
    """A retraining request kept in memory: these tests check the decision, not the job."""
    (project.conf / "local" / "catalog_no_retraining.yml").write_text(yaml.safe_dump(NO_RETRAINING))


def _drift_run() -> mlflow.entities.Run:
    experiment = mlflow.get_experiment_by_name("financial_mlops")
    return mlflow.search_runs([experiment.experiment_id], output_format="list",
                              order_by=["start_time DESC"])[0]


def _checks(project, read_delta) -> pd.DataFrame:
    """One row per check: its whole-window verdict rows joined with its retraining decision."""
    triggers = read_delta(project.path(TRIGGERS)).toPandas().sort_values("decided_at")
    return triggers.reset_index(drop=True)


def _shifted(gold: pd.DataFrame, sigma: float) -> pd.DataFrame:
    return gold.assign(**{name: gold[name] + sigma for name in FEATURES})


def test_a_stable_window_is_recorded_reported_and_needs_no_retraining(
        project, write_gold, make_champion, read_delta):
    version = make_champion(*synthetic_gold(4000, seed=0))
    write_gold(*synthetic_gold(3000, seed=1, start="2026-01-06 14:30"))
    project.run("drift", params=PARAMS)

    metrics = read_delta(project.path(DRIFT_METRICS)).toPandas()
    whole = metrics[metrics.segment == "all"]
    assert sorted(whole.feature) == ["f_medium", "f_noise", "f_strong", "score"]
    # The two symbols, each checked on its own as well.
    assert sorted(set(metrics.segment)) == ["all", "symbol=AAPL", "symbol=MSFT"]
    assert set(metrics.verdict) == set(metrics.check_verdict) == {"ok"}
    assert (whole.psi < 0.1).all() and (whole.ks < 0.1).all()
    check = whole.iloc[0]
    assert metrics.check_id.nunique() == 1
    assert (check.champion_version, check.window_rows, check.arrived_rows) == (version, 3000, 3000)
    assert check.window_start == pd.Timestamp("2026-01-06 14:30")
    assert check.window_end == pd.Timestamp("2026-01-06 14:30") + pd.Timedelta(seconds=2999)

    triggers = read_delta(project.path(TRIGGERS)).toPandas()
    assert list(triggers.action) == ["not_needed"]
    assert triggers.check_id[0] == check.check_id

    run = _drift_run()
    assert run.data.metrics["drift.alert"] == 0
    assert run.data.metrics["drift.unseen_symbol_share"] == 0
    assert run.data.metrics["drift.psi.f_strong"] == pytest.approx(
        whole.set_index("feature").psi["f_strong"])
    assert 0.5 < run.data.metrics["drift.recent_pr_auc"] <= 1
    logged = {a.path for a in mlflow.MlflowClient().list_artifacts(run.info.run_id, "drift")}
    assert logged == {"drift/drift_report.png", "drift/drift_summary.md"}
    png = imread(project.path("data/08_reporting/drift/drift_report.png"))
    assert png.shape[0] >= 500 and png.shape[1] >= 1400
    summary = project.path("data/08_reporting/drift/drift_summary.md").read_text()
    assert summary.startswith("# Drift check ") and summary.split("\n")[0].endswith(" UTC: OK")
    assert f"anomaly_detector v{version}" in summary and "| f_strong |" in summary
    assert "Symbols never trained on: none" in summary


def test_the_window_is_what_arrived_even_with_older_trade_times_then_nothing_new(
        project, write_gold, make_champion, read_delta, quiet_retraining):
    make_champion(*synthetic_gold(4000, seed=0))
    write_gold(*synthetic_gold(3000, seed=1, start="2026-01-06 14:30"))
    project.run("drift", params=PARAMS)
    # Another market's history arrives: shifted, with trade times a year older than any so far.
    gold, labels = synthetic_gold(3000, seed=2, start="2025-01-06 14:30")
    write_gold(_shifted(gold, 2.0), labels.iloc[:0])  # no labels for it
    project.run("drift", params=PARAMS)
    # The older, labelled rows of the first check are not in this window: no recent PR-AUC.
    assert "drift.recent_pr_auc" not in _drift_run().data.metrics
    summary = project.path("data/08_reporting/drift/drift_summary.md").read_text()
    assert "Recent PR-AUC: n/a on the 0 labelled rows of the window" in summary
    # Nothing arrives: the check says so instead of re-checking old rows.
    project.run("drift", params=PARAMS)

    triggers = _checks(project, read_delta)
    assert list(triggers.drift_verdict) == ["ok", "alert", "nothing_new"]
    assert list(triggers.action) == ["not_needed", "triggered", "not_needed"]
    assert "nothing new arrived since" in triggers.reason[2]
    metrics = read_delta(project.path(DRIFT_METRICS)).toPandas()
    assert metrics.check_id.nunique() == 2  # nothing measured on the third check
    shifted = metrics[(metrics.check_id == triggers.check_id[1]) & (metrics.segment == "all")]
    newest_older = pd.Timestamp("2025-01-06 14:30") + pd.Timedelta(seconds=2999)
    assert (shifted.window_end == newest_older).all() and (shifted.window_rows == 3000).all()
    verdicts = shifted.set_index("feature").verdict
    assert (verdicts[["f_strong", "f_medium", "score"]] == "alert").all()
    run = _drift_run()
    assert (run.data.metrics["drift.nothing_new"], run.data.metrics["drift.alert"]) == (1, 0)
    summary = project.path("data/08_reporting/drift/drift_summary.md").read_text()
    assert summary.split("\n")[0].endswith(" UTC: NOTHING NEW")


def test_too_few_new_rows_wait_for_the_next_check_and_a_large_arrival_is_sampled(
        project, write_gold, make_champion, read_delta):
    make_champion(*synthetic_gold(4000, seed=0))
    write_gold(*synthetic_gold(300, seed=1, start="2026-01-06 14:30"))
    project.run("drift", params=PARAMS)
    write_gold(*synthetic_gold(300, seed=2, start="2026-01-06 15:30"))
    project.run("drift", params=PARAMS)
    triggers = _checks(project, read_delta)
    assert list(triggers.drift_verdict) == ["nothing_new", "ok"]
    assert "300 gold rows arrived ever, fewer than drift.min_window_rows=500" in triggers.reason[0]
    first = read_delta(project.path(DRIFT_METRICS)).toPandas().iloc[0]
    assert first.window_rows == first.arrived_rows == 600  # the first 300 were kept for it

    write_gold(*synthetic_gold(6000, seed=3, start="2026-01-07 14:30"))
    project.run("drift", params={"drift": {**PARAMS["drift"], "window": {"max_rows": 2000}}})
    latest = read_delta(project.path(DRIFT_METRICS)).toPandas()
    latest = latest[latest.checked_at == latest.checked_at.max()].iloc[0]
    assert latest.arrived_rows == 6000 and 1800 <= latest.window_rows <= 2000
    # A uniform sample: spread over the whole arrival, not its newest or oldest rows.
    assert latest.window_start < pd.Timestamp("2026-01-07 14:40")
    assert latest.window_end > pd.Timestamp("2026-01-07 16:00")


def test_a_small_drifting_symbol_alerts_where_the_whole_window_does_not(
        project, write_gold, make_champion, read_delta, quiet_retraining):
    make_champion(*synthetic_gold(4000, seed=0))
    gold, labels = synthetic_gold(9600, seed=1)
    gold["symbol"] = ["AAPL"] * 9000 + ["MSFT"] * 600
    gold.iloc[9000:] = _shifted(gold.iloc[9000:], 2.0)
    write_gold(gold, labels)
    project.run("drift", params=PARAMS)

    metrics = read_delta(project.path(DRIFT_METRICS)).toPandas()
    verdicts = metrics[metrics.feature == "score"].set_index("segment").verdict
    assert verdicts["symbol=AAPL"] == "ok" and verdicts["symbol=MSFT"] == "alert"
    whole = metrics[metrics.segment == "all"].set_index("feature")
    assert (whole.verdict[["f_strong", "f_medium", "f_noise"]] != "alert").all()
    assert (whole.verdict["score"] != "alert")
    triggers = _checks(project, read_delta)
    assert (triggers.drift_verdict[0], triggers.action[0]) == ("alert", "triggered")
    assert "segment symbol=MSFT (600 rows) alerts" in triggers.reason[0]
    assert _drift_run().data.metrics["drift.alerting_segments"] == 1

    # Without segments the same window does not alert.
    write_gold(*synthetic_gold(10, seed=9))  # the check needs new rows: re-read everything
    project.path("data/08_reporting/_state/drift_watermark.json").unlink()
    project.run("drift", params={"drift": {**PARAMS["drift"], "segments": {"by": None}}})
    assert _checks(project, read_delta).drift_verdict.iloc[-1] != "alert"


def test_symbols_never_trained_on_are_named_and_their_share_alerts(
        project, write_gold, make_champion, read_delta, quiet_retraining):
    make_champion(*synthetic_gold(4000, seed=0))
    gold, labels = synthetic_gold(3000, seed=1)
    gold.loc[2700:, "symbol"] = "BRK.B"  # 10 % of the window, never trained on
    write_gold(gold, labels)
    project.run("drift", params=PARAMS)

    triggers = _checks(project, read_delta)
    assert (triggers.drift_verdict[0], triggers.action[0]) == ("alert", "triggered")
    assert "10.0% of the window is in 1 symbol(s) never trained on (alert at 5%): BRK.B" in (
        triggers.reason[0])
    assert _drift_run().data.metrics["drift.unseen_symbol_share"] == pytest.approx(0.1)
    summary = project.path("data/08_reporting/drift/drift_summary.md").read_text()
    assert "Symbols never trained on: 10.0% of the window, 1 symbol(s): `BRK.B`" in summary


def test_a_champion_whose_profile_predates_symbols_still_checks(
        project, write_gold, make_champion, read_delta):
    make_champion(*synthetic_gold(4000, seed=0))
    gold, labels = synthetic_gold(3000, seed=1)
    gold["symbol"] = "BRK.B"
    write_gold(gold, labels)
    with KedroSession.create(project_path=project.workdir, runtime_params=PARAMS) as session:
        context = session.load_context()
        champion, drift = context.catalog.load("drift_champion"), context.params["drift"]
        window, coverage = select_window(*(context.catalog.load(name) for name in (
            "gold_trade_features@delta", "silver_trades", "anomaly_labels")), {}, drift)
    old = copy.copy(champion)  # the same version, with a profile from before symbols were kept
    old.profile = {k: v for k, v in champion.profile.items() if k not in ("symbols", "segments")}
    check = check_drift(window, coverage, old, drift)
    assert check["verdict"] == "ok" and check["unseen"]["recorded"] is False
    assert "never trained on" not in check["reason"]
    assert check["segments"] == [] and check["unchecked_segments"] == ["symbol=BRK.B"]
    assert "symbol=BRK.B" in summary_markdown(check).split("Not checked on their own")[1]
    assert check_drift(window, coverage, champion, drift)["verdict"] == "alert"


def test_drift_needs_a_working_champion_and_sane_settings(project, write_gold, make_champion):
    write_gold(*synthetic_gold(1000, seed=1))
    with pytest.raises(UserError, match="no @champion model"):
        project.run("drift", params=PARAMS)
    # In the whole flow a first challenger that deployment refused leaves a champion dataset
    # with no version (the refusal is its change), not a model to check.
    refused = Champion("anomaly_detector", None, None, {}, [], change={"decision": "reject"})
    with pytest.raises(UserError, match="no @champion model"):
        check_drift(pd.DataFrame(), {}, refused, PARAMS["drift"])
    make_champion(*synthetic_gold(4000, seed=0))
    with pytest.raises(UserError, match="drift.window.max_rows=100 is below "
                                        "drift.min_window_rows=500"):
        project.run("drift", params={"drift": {**PARAMS["drift"], "window": {"max_rows": 100}}})
    with pytest.raises(UserError, match="arrival_column 'arrived' is not a column"):
        project.run("drift", params={"drift": {**PARAMS["drift"],
                                               "window": {"arrival_column": "arrived"}}})
    with pytest.raises(UserError, match="drift.segments.by 'sector' is not a gold column to "
                                        "segment by: use one of symbol, exchange or null"):
        project.run("drift", params={"drift": {**PARAMS["drift"], "segments": {"by": "sector"}}})
    version = make_champion(*synthetic_gold(4000, seed=0), broken=True)
    with pytest.raises(UserError, match=f"champion anomaly_detector v{version} returned 1000 "
                                        "non-finite scores"):
        project.run("drift", params=PARAMS)


def test_in_the_whole_flow_the_check_waits_for_the_champion_the_retraining_decided_on(project):
    from financial_mlops.pipeline_registry import register_pipelines

    flow = [node.name for node in register_pipelines()["__default__"].nodes]
    # A data edge since the registry is a dataset: the check reads the champion the
    # deployment's move saved (deployed_champion), no longer a placeholder on validation.
    assert flow.index("check_drift") > flow.index("apply_promotion")
    alone = register_pipelines()["drift"]
    assert {name for node in alone.nodes for name in node.inputs} >= {"drift_champion"}
    assert "validation_report" not in alone.inputs()
