"""Simulator throughput: trades/s for one 1M-trade batch, and for the same trades in 10 batches
that continue each other through the JSON state (as ingestion runs it).

    .venv/bin/python benchmarks/bench_simulator.py [--trades 1000000] [--repeats 3]

Prints the best of `repeats` runs in wall and CPU seconds (the machine is shared: CPU time is the
simulator's own cost). Target: 1M trades in a few seconds on 2 cores.
"""

import argparse
import json
import time

from financial_mlops.sources.simulator import simulate_batch


def _best_seconds(run, repeats: int) -> tuple[float, float]:
    """Best wall and best CPU seconds of `repeats` runs."""
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus)


def _in_batches(n_trades: int, batches: int) -> None:
    state = None
    for _ in range(batches):
        _, _, state = simulate_batch(n_trades // batches, state=state)
        state = json.loads(json.dumps(state))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trades", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    simulate_batch(1_000)  # imports and first-call costs are not the simulator's throughput
    runs = {
        "one batch": lambda: simulate_batch(args.trades),
        "10 batches": lambda: _in_batches(args.trades, 10),
    }
    for name, run in runs.items():
        wall, cpu = _best_seconds(run, args.repeats)
        print(
            f"{name:<11} {args.trades:,} trades: {wall:.2f} s wall = {args.trades / wall:,.0f}"
            f" trades/s; {cpu:.2f} s CPU = {args.trades / cpu:,.0f} trades/s"
        )


if __name__ == "__main__":
    main()
