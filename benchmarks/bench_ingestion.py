"""Ingestion throughput: the simulator, and landing JSON files -> bronze Delta (issue target:
>= 100k trades/s into bronze on 2 cores, timed after the Spark session exists).

    .venv/bin/python benchmarks/bench_ingestion.py [n_trades]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import yaml

from financial_mlops.datasets import DeltaDataset, LandingZoneDataset
from financial_mlops.pipelines.ingestion.nodes import parse_landing_lines
from financial_mlops.sources.simulator import simulate_batch
from financial_mlops.spark import get_spark

REPO = Path(__file__).resolve().parents[1]


def main(n_trades: int = 1_000_000) -> None:
    spark = get_spark(yaml.safe_load((REPO / "conf/base/spark.yml").read_text()))
    spark.range(1).count()  # session and JVM warm

    started = time.perf_counter()
    trades, _, _ = simulate_batch(n_trades, seed=7)
    simulated = time.perf_counter() - started
    lines = trades.to_json(orient="records", lines=True).splitlines()

    with tempfile.TemporaryDirectory() as tmp:
        landing = LandingZoneDataset(path=f"{tmp}/landing")
        bronze = DeltaDataset(path=f"{tmp}/bronze",
                              save_args={"mode": "append", "checkpoint": f"{tmp}/checkpoint"})
        started = time.perf_counter()
        landing.save(lines)
        landed = time.perf_counter() - started
        started = time.perf_counter()
        bronze.save(parse_landing_lines(landing.load()))
        loaded = time.perf_counter() - started
        count = bronze.load().count()

    assert count == n_trades, (count, n_trades)
    print(f"simulator:          {n_trades:,} trades in {simulated:.2f} s = {n_trades / simulated:,.0f} trades/s")
    print(f"landing write:      {landed:.2f} s = {n_trades / landed:,.0f} trades/s")
    print(f"landing -> bronze:  {loaded:.2f} s = {n_trades / loaded:,.0f} trades/s (target >= 100,000)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
