"""The live local demo: trades flow from the simulator to anomaly scores while you watch.

    python -m financial_mlops.demo [--interval 5] [--trades 2000] [--cycles N] [--verbose]

Run from the project folder (env ``local``). Every cycle runs the project's own pipelines in a
KedroSession: ``ingestion`` (simulator -> landing file -> bronze) and ``features`` (silver,
gold), then ``inference`` (the new gold rows scored by the live @champion); it then prints the
anomalies flagged since the previous cycle, with the simulator's ground truth, and how long the
cycle's trades took from landing to their scores. Without a champion yet, the first run trains
and promotes one (``retraining``). Ctrl-C (or SIGTERM) stops after the current cycle; a second one
at once.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from financial_mlops.errors import UserError
from financial_mlops.registry import CHAMPION, alias_version
from financial_mlops.spark import get_spark

SHOWN_PER_CYCLE = 8
_QUIET = ("kedro", "kedro_mlflow", "kedro_viz", "financial_mlops", "py4j", "mlflow")


@dataclass(frozen=True)
class Cycle:
    """What one cycle scored: counts, the top flagged trades, and the time from the start of
    the cycle (before its batch landed) to its last score, an upper bound of landing -> score."""

    number: int
    scored: int
    flagged: int
    top_flagged: list[dict[str, Any]]
    model_versions: list[str]
    landing_to_score_seconds: float | None

    def summary(self) -> str:
        versions = ",".join(self.model_versions) or "-"
        latency = ("" if self.landing_to_score_seconds is None
                   else f", landing -> score <= {self.landing_to_score_seconds:.1f} s")
        return (f"cycle {self.number}: {self.scored} trades scored by model v{versions}, "
                f"{self.flagged} flagged{latency}")


class LiveDemo:
    """Runs the pipelines of the project at ``project_path`` cycle after cycle."""

    def __init__(self, project_path: Path, trades: int) -> None:
        self.project_path, self.trades = project_path, trades
        self.cycles = 0
        self._shown_until = self._newest_score()  # epoch micros; older scores are not shown

    def _session(self, params: dict | None = None) -> KedroSession:
        return KedroSession.create(project_path=self.project_path, runtime_params=params or {})

    def _run(self, pipelines: list[str], params: dict | None = None) -> None:
        with self._session(params) as session:
            session.run(pipeline_names=pipelines)

    def _load(self, *names: str) -> list[DataFrame]:
        with self._session() as session:
            context = session.load_context()
            get_spark(context.config_loader["spark"])  # as the Spark hook does before a run
            return [context.catalog.load(name) for name in names]

    def _newest_score(self) -> int | None:
        scores, = self._load("anomaly_scores")
        return scores.agg(F.max(F.unix_micros("scored_at"))).first()[0]

    def _simulated(self, trades: int) -> dict:
        return {"ingestion": {"source": "simulator", "simulator": {"trades_per_batch": trades}}}

    def ensure_champion(self, bootstrap_trades: int) -> None:
        """Train and promote a first champion when the registry has none."""
        with self._session() as session:
            context = session.load_context()  # points MLflow at the env's registry
            name = context.params["inference"]["registered_model_name"]
        if alias_version(name, CHAMPION) is not None:
            return
        print(f"No @{CHAMPION} for '{name}' yet: ingesting {bootstrap_trades} simulated trades "
              "and training one (ingestion, features, retraining; a few minutes, once).",
              flush=True)
        self._run(["ingestion", "features"], self._simulated(bootstrap_trades))
        self._run(["retraining"])
        if alias_version(name, CHAMPION) is None:
            raise UserError(f"the retraining promoted no @{CHAMPION} for '{name}': see its "
                            "promotion decision in data/08_reporting/deployment/")

    def cycle(self) -> Cycle:
        """One simulated batch through every stage, and what got scored since the last cycle."""
        started = time.time()
        # Two runs: nothing in the data orders inference after features within one pipeline.
        self._run(["ingestion", "features"], self._simulated(self.trades))
        self._run(["inference"])
        self.cycles += 1
        scores, labels = self._load("anomaly_scores", "anomaly_labels")
        new = scores.withColumn("_micros", F.unix_micros("scored_at"))
        if self._shown_until is not None:
            new = new.filter(F.col("_micros") > self._shown_until)
        stats = new.agg(F.count("*").alias("scored"), F.sum("is_anomaly").alias("flagged"),
                        F.max("_micros").alias("until"),
                        F.sort_array(F.collect_set("model_version")).alias("versions")).first()
        top = (new.filter("is_anomaly = 1").join(labels, "trade_id", "left")
               .orderBy(F.desc("score")).limit(SHOWN_PER_CYCLE)
               .select("event_time", "symbol", "trade_id", "score", "model_version",
                       "anomaly_type").collect())
        self._shown_until = stats["until"] or self._shown_until
        latency = None if stats["until"] is None else stats["until"] / 1e6 - started
        return Cycle(self.cycles, stats["scored"], stats["flagged"] or 0,
                     [row.asDict() for row in top], list(stats["versions"]), latency)


def print_cycle(cycle: Cycle) -> None:
    print(cycle.summary(), flush=True)
    for row in cycle.top_flagged:
        truth = row["anomaly_type"] or "not planted"
        print(f"  {row['event_time']:%H:%M:%S.%f}  {row['symbol']:<6} {row['trade_id']:<22} "
              f"score {row['score']:.3f}  v{row['model_version']}  [{truth}]", flush=True)


class _StopOnCtrlC:
    """The first Ctrl-C or SIGTERM (``kill``, a service manager, a container stopping) asks to
    stop after the current cycle, a second one stops at once. Spark installs its own SIGINT
    handler when it starts, so this one is (re)installed each cycle."""

    def __init__(self) -> None:
        self.requested = threading.Event()

    def arm(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._handle)

    def _handle(self, *_: Any) -> None:
        if self.requested.is_set():
            raise KeyboardInterrupt
        self.requested.set()
        print("\nStopping after this cycle (Ctrl-C again to stop now).", flush=True)


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m financial_mlops.demo",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--interval", type=float, default=5.0,
                        help="seconds to wait between two cycles (default 5)")
    parser.add_argument("--trades", type=int, default=2000,
                        help="simulated trades per cycle (default 2000)")
    parser.add_argument("--cycles", type=int, default=0,
                        help="stop after this many cycles (default 0: until Ctrl-C)")
    parser.add_argument("--bootstrap-trades", type=int, default=100_000,
                        help="trades to train the first champion on when there is none")
    parser.add_argument("--verbose", action="store_true", help="show the pipelines' logs")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    stop = _StopOnCtrlC()
    stop.arm()
    try:
        demo = _start(Path.cwd(), args)
        print(f"Live: {args.trades} simulated trades every {args.interval:g} s. Ctrl-C to stop.",
              flush=True)
        while not stop.requested.is_set() and (not args.cycles or demo.cycles < args.cycles):
            stop.arm()
            print_cycle(demo.cycle())
            stop.requested.wait(args.interval)
    except UserError as error:
        print(f"Error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    print("Stopped.", flush=True)
    return 0


def _start(project: Path, args: argparse.Namespace) -> LiveDemo:
    if not (project / "pyproject.toml").is_file():
        raise UserError(f"{project} is not the project folder: run the demo where pyproject.toml "
                        "is")
    bootstrap_project(project)
    if not args.verbose:
        for name in _QUIET:
            logging.getLogger(name).setLevel(logging.WARNING)
    demo = LiveDemo(project, args.trades)
    demo.ensure_champion(args.bootstrap_trades)
    return demo


if __name__ == "__main__":
    sys.exit(main())
