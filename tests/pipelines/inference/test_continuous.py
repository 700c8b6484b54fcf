"""The continuous stream: a champion hot swap while it runs and a SIGKILL in the middle of a
micro-batch (in a process of its own, as the Databricks job runs it), and a clean stop on
SIGTERM."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
import yaml
from tests.conftest import REPO
from tests.pipelines.inference.conftest import CHECKPOINT, GOLD, gold_rows


def _one_file_per_micro_batch(scoring) -> None:
    """The local reading of gold (its change feed), one file per micro-batch."""
    catalog = yaml.safe_load((REPO / "conf/base/catalog_inference.yml").read_text())
    stream = {**catalog["_gold_change_stream"], "maxFilesPerTrigger": 1}
    (scoring.project.conf / "local" / "catalog_inference.yml").write_text(yaml.safe_dump({
        "gold_trade_features@changes": {"type": "financial_mlops.datasets.DeltaDataset",
                                        "path": GOLD, "load_args": stream}}))


@pytest.mark.slow
def test_hot_swap_then_kill_mid_batch_and_restart_scores_every_trade_once(
        scoring, continuous_stream):
    _one_file_per_micro_batch(scoring)
    before, after = gold_rows(200, seed=1), gold_rows(600, seed=2)
    scoring.add_gold(before)
    scoring.promote(1)
    stream = continuous_stream()
    stream.wait_until(lambda: len(scoring.scores()) == 200, "the first rows' scores", timeout=300)

    # Promoted while the stream runs; the new rows come in six micro-batches.
    scoring.promote(2)
    scoring.add_gold(after, files=6)
    checkpoint = scoring.path(CHECKPOINT)

    def third_batch_in_flight() -> bool:  # planned (offset logged), not committed
        return (checkpoint / "offsets/2").exists() and not (checkpoint / "commits/2").exists()

    stream.wait_until(third_batch_in_flight, "the third micro-batch")
    stream.kill()
    assert not (checkpoint / "commits/2").exists()
    assert 200 < len(scoring.scores()) < 800

    (scoring.project.conf / "local" / "catalog_inference.yml").unlink()
    scoring.run()
    scores = scoring.scores().set_index("trade_id")
    assert len(scores) == scores.index.nunique() == scoring.gold_count() == 800
    assert set(scores.model_version[before.trade_id]) == {"1"}
    assert set(scores.model_version[after.trade_id]) == {"2"}


def test_continuous_mode_stops_between_micro_batches_on_sigterm(scoring):
    scoring.add_gold(gold_rows(100, seed=1))
    scoring.promote(1)
    default_handler = signal.getsignal(signal.SIGTERM)
    seen = {}

    def terminate_once_scored() -> None:
        deadline = time.monotonic() + 300
        while len(scoring.scores()) < 100 and time.monotonic() < deadline:
            time.sleep(0.2)
        seen["handled"] = signal.getsignal(signal.SIGTERM) is not default_handler
        if seen["handled"]:
            os.kill(os.getpid(), signal.SIGTERM)
        else:  # never kill the test process: stop the stream directly and fail below
            for query in scoring.spark.streams.active:
                query.stop()

    threading.Thread(target=terminate_once_scored, daemon=True).start()
    scoring.run(mode="continuous", trigger_interval="1 seconds")

    assert seen["handled"]
    assert len(scoring.scores()) == 100
    assert not scoring.spark.streams.active
    assert signal.getsignal(signal.SIGTERM) is default_handler
