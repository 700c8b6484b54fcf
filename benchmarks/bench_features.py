"""Features throughput, timed after the Spark session exists (issue 3 targets on 2 cores):

- full gold build for 1M and 4M simulated trades: >= 100k trades/s (silver -> gold Delta,
  median of 3); the whole features pipeline's first run, bronze -> silver + quarantine -> gold,
  is reported next to it;
- an incremental run adding 10k trades to a 1M-trade history: within 2x of the same run
  adding 10k trades to empty tables (median of 3 runs each).

- ``--universe concentrated`` (issue 17): the real-shaped market of ``concentrated_market.py``
  (4 symbols, the largest 45 % of the trades; e.g. ``--sizes 3000000``): gold >= 150k
  trades/s, and the whole run within 10x of the Polars anchor (no incremental part).

Every size also runs the Polars anchor (``polars_anchor.py``) on the same landing files and
prints Spark's time against it.

    .venv/bin/python benchmarks/bench_features.py [--sizes 1000000 4000000] [--increment 10000]
                                                  [--universe simulator|concentrated]

Bronze is filled by the ingestion's own datasets and parser; the features pipeline runs through
Kedro's runner on the project's catalog entries (conf/base/catalog_features.yml), rooted in a
temporary folder. The machine may be shared: next to wall time it reports the CPU time of the
Spark JVM and its Python workers and what that is on 2 idle cores (CPU / 2), an estimate
independent of other load.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml
from kedro.config import OmegaConfigLoader
from kedro.io import DataCatalog
from kedro.runner import SequentialRunner

from financial_mlops.datasets import DeltaDataset, LandingZoneDataset
from financial_mlops.features.bronze import parse_landing_lines
from financial_mlops.features.gold import parallel_trade_features
from financial_mlops.pipelines.features import create_pipeline
from financial_mlops.settings import CONFIG_LOADER_ARGS
from financial_mlops.sources.simulator import simulate_batch
from financial_mlops.spark import get_spark

sys.path.insert(0, str(Path(__file__).resolve().parent))
import polars_anchor  # noqa: E402
from concentrated_market import CHUNK, landing_files  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
REPEATS = 3  # gold builds per size and incremental runs per case; the median is reported
TARGET = {"simulator": 100_000, "concentrated": 150_000}  # gold trades/s


class Stopwatch:
    """Wall time and the CPU time of Spark's JVM and its Python workers (gold's per-symbol
    numpy work runs there) of what runs in a ``with`` block."""

    def __init__(self, spark) -> None:
        self._root = spark.sparkContext._gateway.proc.pid
        self.wall = self.cpu = 0.0

    def _cpu(self) -> float:
        """CPU seconds of the JVM's process tree; a worker that exits is counted in its
        parent's children's time, so the total survives it."""
        parents: dict[int, list[int]] = {}
        stats = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                stats[int(entry.name)] = fields
                parents.setdefault(int(fields[1]), []).append(int(entry.name))
        total, pending = 0, [self._root]
        while pending:
            pid = pending.pop()
            total += sum(int(f) for f in stats.get(pid, [0] * 15)[11:15])  # u, s, cu, cs
            pending += parents.get(pid, [])
        return total / os.sysconf("SC_CLK_TCK")

    def __enter__(self) -> Stopwatch:
        self._started, self._cpu_started = time.perf_counter(), self._cpu()
        return self

    def __exit__(self, *_) -> None:
        self.wall = time.perf_counter() - self._started
        self.cpu = self._cpu() - self._cpu_started

    def rate(self, rows: int) -> str:
        idle = self.cpu / 2
        return (f"{self.wall:6.1f} s = {rows / self.wall:9,.0f} trades/s  (Spark CPU "
                f"{self.cpu:6.1f} s: {idle:5.1f} s = {rows / idle:9,.0f} trades/s on 2 idle cores)")


class Market:
    """A simulated market that continues from batch to batch."""

    def __init__(self, seed: int) -> None:
        self.seed, self.state = seed, None

    def lines(self, n: int) -> list[str]:
        trades, _, self.state = simulate_batch(n, seed=self.seed, state=self.state)
        return trades.to_json(orient="records", lines=True).splitlines()


class ConcentratedMarket:
    """The real-shaped market of ``concentrated_market``: its cached files, in order."""

    def __init__(self, trades: int) -> None:
        self.files = iter(landing_files(trades))

    def lines(self, n: int) -> list[str]:
        lines = next(self.files).read_text().splitlines()
        assert len(lines) == n, (len(lines), n)
        return lines


class Project:
    """Bronze plus the features catalog, under one folder."""

    def __init__(self, root: Path, params: dict) -> None:
        self.root = root
        self.landing = LandingZoneDataset(path=str(root / "landing"))
        self.bronze = DeltaDataset(path=str(root / "bronze"), save_args={
            "mode": "append", "checkpoint": str(root / "bronze_checkpoint")})
        # Resolved as a run resolves them (${local:}, ${uc:}, ${by_platform:}), locally.
        names = yaml.safe_load((REPO / "conf/base/catalog_features.yml").read_text())
        entries = OmegaConfigLoader(str(REPO / "conf"), **CONFIG_LOADER_ARGS)["catalog"]
        config = {name: entries[name] for name in names if not name.startswith("_")}
        for entry in config.values():
            for key in ("path", "filepath"):
                if key in entry and not entry[key].startswith(str(root)):
                    entry[key] = str(root / entry[key])
        self.gold_save_args = config["gold_trade_features@delta"]["save_args"]
        self.catalog = DataCatalog.from_config(config)
        self.catalog["bronze_trades"] = self.bronze
        self.catalog["params:features"] = params

    def ingest(self, market: Market, n: int) -> None:
        for start in range(0, n, CHUNK):
            self.landing.save(market.lines(min(CHUNK, n - start)))
        self.bronze.save(parse_landing_lines(self.landing.load()))

    def run_features(self, spark) -> Stopwatch:
        with Stopwatch(spark) as watch:
            SequentialRunner().run(create_pipeline(), self.catalog)
        return watch

    def table(self, name: str):
        return self.catalog.load(name)


def full_build(spark, tmp: Path, size: int, params: dict, universe: str, repeats: int
               ) -> tuple[Project, Market]:
    market = ConcentratedMarket(size) if universe == "concentrated" else Market(seed=size)
    project = Project(tmp / f"history_{size}", params)
    project.ingest(market, size)
    whole = project.run_features(spark)
    silver = project.table("silver_trades")
    assert silver.count() == size, silver.count()
    print(f"{size:>9,} trades  features pipeline, bronze -> silver + quarantine -> gold: "
          f"{whole.rate(size)}")
    builds = []
    for k in range(repeats):
        gold = DeltaDataset(path=str(tmp / f"gold_{size}_{k}"), save_args=project.gold_save_args)
        with Stopwatch(spark) as watch:
            gold.save(parallel_trade_features(silver, params["gold"], arrival=True))
        builds.append(watch)
    median = sorted(builds, key=lambda w: w.wall)[repeats // 2]
    print(f"{size:>9,} trades  gold build, silver -> gold Delta (target >= {TARGET[universe]:,}/s):"
          f"   {median.rate(size)}  [median of {repeats}; walls "
          f"{', '.join(f'{w.wall:.1f}' for w in builds)} s]")
    anchor(project, size, params, whole, median)
    return project, market


def anchor(project: Project, size: int, params: dict, whole: Stopwatch, gold: Stopwatch) -> None:
    """The same landing files through the Polars anchor, and Spark's time against it, by wall
    time and by CPU time spread over 2 cores (Polars uses both)."""
    with tempfile.TemporaryDirectory() as out:
        polars = polars_anchor.run(polars_anchor.landing_files([project.root / "landing"]),
                                   Path(out), params["gold"])
    assert polars["rows"] == size, polars["rows"]
    idle = polars["cpu"] / 2
    print(f"{size:>9,} trades  Polars anchor, JSON -> silver -> gold Parquet: "
          f"{polars['total']:6.1f} s (gold {polars['gold']:.1f} s; CPU {polars['cpu']:.1f} s: "
          f"{idle:.1f} s on 2 idle cores)")
    print(f"{size:>9,} trades  Spark / Polars, whole features run (target <= 10): wall "
          f"{whole.wall / polars['total']:.1f}x, CPU on 2 cores {whole.cpu / 2 / idle:.1f}x; "
          f"gold: wall {gold.wall / polars['gold']:.1f}x")


def incremental(spark, tmp: Path, history: Project, market: Market, increment: int,
                params: dict) -> None:
    """The same run, adding ``increment`` trades, onto the history and onto empty tables."""
    onto_history, onto_empty = [], []
    for k in range(REPEATS):
        history.ingest(market, increment)
        onto_history.append(history.run_features(spark).wall)
        empty = Project(tmp / f"empty_{k}", params)
        empty.ingest(Market(seed=k), increment)
        onto_empty.append(empty.run_features(spark).wall)
    with_history, without = statistics.median(onto_history), statistics.median(onto_empty)
    print(f"+{increment:,} trades onto empty tables: {without:5.1f} s; onto the history: "
          f"{with_history:5.1f} s; ratio {with_history / without:.2f} (target <= 2)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 4_000_000])
    parser.add_argument("--increment", type=int, default=10_000)
    parser.add_argument("--universe", choices=("simulator", "concentrated"), default="simulator")
    parser.add_argument("--repeats", type=int, default=REPEATS, help="gold builds per size")
    args = parser.parse_args()
    params = yaml.safe_load((REPO / "conf/base/parameters_features.yml").read_text())["features"]
    spark = get_spark(yaml.safe_load((REPO / "conf/base/spark.yml").read_text()))
    spark.range(1).count()
    print(f"{os.cpu_count()} cores; load average at start {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        warm = Project(Path(tmp) / "warm_up", params)  # JIT and caches, not timed
        warm.ingest(Market(seed=3), 20_000)
        warm.run_features(spark)
        for size in args.sizes:
            project, market = full_build(spark, Path(tmp), size, params, args.universe,
                                         args.repeats)
            if size == args.sizes[0] and args.universe == "simulator":
                incremental(spark, Path(tmp), project, market, args.increment, params)


if __name__ == "__main__":
    main()
