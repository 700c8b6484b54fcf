"""Tournament budget: the default parameters on default simulator data (issue target: the
tournament pipeline in at most 5 minutes on 2 cores; winner test PR-AUC >= 0.90 and >= 0.20
above the rule baseline).

Runs ingestion and features (untimed) then the tournament (timed) in a scratch copy of the
project, and prints every candidate's figures.

    .venv/bin/python benchmarks/bench_tournament.py [trades]
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")

REPO = Path(__file__).resolve().parents[1]
COLUMNS = ["candidate", "val_pr_auc", "test_pr_auc", "test_pr_auc_lift_over_baseline", "test_f1",
           "test_precision", "test_recall", "test_roc_auc", "train_val_gap",
           "batch_pr_auc_spread", "fit_seconds", "tuning_seconds", "scoring_rows_per_second",
           "study_trials", "study_trials_pruned"]


def _run(workdir: Path, pipelines: list[str], params: dict) -> float:
    started = time.perf_counter()
    with KedroSession.create(project_path=workdir, runtime_params=params) as session:
        session.run(pipeline_names=pipelines)
    return time.perf_counter() - started


def main(trades: int = 100_000) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        shutil.copy(REPO / "pyproject.toml", workdir)
        shutil.copytree(REPO / "conf", workdir / "conf", ignore=shutil.ignore_patterns("local"))
        (workdir / "conf/local").mkdir()
        (workdir / "src").mkdir()
        os.chdir(workdir)
        bootstrap_project(workdir)
        _run(workdir, ["ingestion", "features"],
             {"ingestion": {"simulator": {"trades_per_batch": trades}}})
        seconds = _run(workdir, ["tournament"], {})
        board = pd.read_csv(workdir / "data/08_reporting/tournament/leaderboard.csv")

    pd.set_option("display.width", 200)
    print(board[COLUMNS].set_index("candidate").round(4).T.to_string())
    winner = board.iloc[0]
    print(f"\ntournament pipeline: {seconds:.1f} s on {trades:,} trades (target <= 300 s); "
          f"winner {winner['candidate']}: test PR-AUC {winner['test_pr_auc']:.4f} "
          f"(target >= 0.90), lift over the rule {winner['test_pr_auc_lift_over_baseline']:.4f} "
          "(target >= 0.20)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
