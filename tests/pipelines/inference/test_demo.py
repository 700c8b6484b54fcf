"""The live demo: one cycle of the real pipelines, and its Ctrl-C handling."""

from __future__ import annotations

import os
import signal
import time

import pytest
from tests.pipelines.deployment.contract_model import register_version

from financial_mlops.demo import LiveDemo, _StopOnCtrlC


@pytest.mark.slow
def test_a_demo_cycle_scores_the_new_trades_and_reports_the_flagged_ones(scoring):
    simulated = {"ingestion": {"source": "simulator", "simulator": {"trades_per_batch": 3000}}}
    scoring.project.run(["ingestion", "features"], params=simulated)
    gold = scoring.spark.read.format("delta").load(
        str(scoring.path("data/04_feature/gold_trade_features"))).toPandas()
    labels = scoring.spark.read.format("delta").load(
        str(scoring.path("data/02_intermediate/anomaly_labels"))).toPandas()
    feature = sorted(c for c in gold.columns if c.startswith("f_"))[0]
    version = register_version("anomaly_detector", gold, labels, feature=feature)
    scoring.promote(int(version.version))

    cycle = LiveDemo(scoring.project.workdir, trades=500).cycle()

    scores = scoring.scores()
    assert cycle.scored == len(scores) == scoring.gold_count() == 3500
    assert cycle.model_versions == [str(version.version)]
    assert cycle.flagged == scores.is_anomaly.sum()
    assert len(cycle.top_flagged) == min(cycle.flagged, 8)
    assert 0 < cycle.landing_to_score_seconds < 300


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_sigterm_stops_after_the_cycle_and_twice_stops_at_once(sig):
    stop = _StopOnCtrlC()
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        stop.arm()
        os.kill(os.getpid(), sig)
        assert stop.requested.wait(5)
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), sig)
            time.sleep(5)  # the handler runs by then
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
