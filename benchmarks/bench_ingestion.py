"""Ingestion throughput: the simulator, and landing JSON files -> bronze Delta (issue target:
>= 100k trades/s into bronze on 2 cores, timed after the Spark session exists).

    .venv/bin/python benchmarks/bench_ingestion.py [n_trades] [--repeat 3]

The first load into bronze in a new Spark session also pays for loading and JIT-compiling the
JSON, Parquet and Delta code paths, which a `kedro run` pays too; it is reported apart from the
steady state (the median of the later loads, each into a new bronze table).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import yaml

from financial_mlops.datasets import DeltaDataset, LandingZoneDataset
from financial_mlops.features.bronze import parse_landing_lines
from financial_mlops.sources.simulator import simulate_batch
from financial_mlops.spark import get_spark

REPO = Path(__file__).resolve().parents[1]


def load_into_bronze(root: Path, lines: list[str]) -> tuple[float, float]:
    """Land the lines as one file, then stream them into a new bronze table: (land s, load s)."""
    landing = LandingZoneDataset(path=str(root / "landing"))
    bronze = DeltaDataset(path=str(root / "bronze"),
                          save_args={"mode": "append", "checkpoint": str(root / "checkpoint")})
    started = time.perf_counter()
    landing.save(lines)
    landed = time.perf_counter() - started
    started = time.perf_counter()
    bronze.save(parse_landing_lines(landing.load()))
    loaded = time.perf_counter() - started
    count = bronze.load().count()
    assert count == len(lines), (count, len(lines))
    return landed, loaded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n_trades", type=int, nargs="?", default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="steady-state loads after the first")
    args = parser.parse_args()
    n = args.n_trades
    spark = get_spark(yaml.safe_load((REPO / "conf/base/spark.yml").read_text()))
    spark.range(1).count()  # the session exists

    started = time.perf_counter()
    trades, _, _ = simulate_batch(n, seed=7)
    simulated = time.perf_counter() - started
    lines = trades.to_json(orient="records", lines=True).splitlines()

    with tempfile.TemporaryDirectory() as tmp:
        runs = [load_into_bronze(Path(tmp) / f"run_{k}", lines) for k in range(1 + args.repeat)]
    landed = statistics.median(land for land, _ in runs)
    first, steady = runs[0][1], [load for _, load in runs[1:]]
    print(f"simulator:                {n:,} trades in {simulated:.2f} s = "
          f"{n / simulated:,.0f} trades/s")
    print(f"landing write:            {landed:.2f} s = {n / landed:,.0f} trades/s")
    print(f"landing -> bronze, first: {first:.2f} s = {n / first:,.0f} trades/s "
          "(target >= 100,000; includes JIT warm-up of a new session)")
    if steady:
        median = statistics.median(steady)
        print(f"landing -> bronze, steady: {median:.2f} s = {n / median:,.0f} trades/s "
              f"(median of {len(steady)}: {', '.join(f'{s:.2f}' for s in steady)} s)")


if __name__ == "__main__":
    main()
