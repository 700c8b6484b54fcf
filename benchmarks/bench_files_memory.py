"""Peak memory of the files source: a drop 10x larger must not need more memory (issue target:
the large drop's peak resident set within 1.2x of the small drop's, the large drop >= 16 MB).

    .venv/bin/python benchmarks/bench_files_memory.py [--small-mb 2] [--factor 10] [--whole]

Each drop (a third JSON lines, a third one JSON array, a third CSV) is read by the files
source and landed (the Python side of `kedro run --pipelines ingestion`, where the whole drop
used to be held as one list) in a fresh process, whose peak RSS (``ru_maxrss``) is reported.
``--whole`` also measures holding every record at once, as the source did before, to show what
the chunking saves. Bronze is then written by Spark from the landing files, in its own JVM.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from financial_mlops.datasets import LandingZoneDataset
from financial_mlops.sources.files import read_new_files


def trade(k: int) -> dict:
    return {"trade_id": f"T{k:010d}", "symbol": ("AAPL", "MSFT", "BRK.B")[k % 3],
            "price": round(100 + (k % 997) * 0.01, 2), "volume": float(1 + k % 500),
            "timestamp": 1767623400000 + k, "exchange": "XNAS"}


def write_drop(folder: Path, megabytes: float) -> int:
    """A drop of about ``megabytes``; returns its number of trades."""
    folder.mkdir(parents=True)
    per_file = int(megabytes * 1e6 / 3)
    k = 0
    with (folder / "a.jsonl").open("w") as out:
        while out.tell() < per_file:
            out.write(json.dumps(trade(k)) + "\n")
            k += 1
    with (folder / "b.json").open("w") as out:
        out.write("[\n")
        while out.tell() < per_file:
            out.write(("" if out.tell() <= 2 else ",\n") + json.dumps(trade(k), indent=1))
            k += 1
        out.write("\n]\n")
    with (folder / "c.csv").open("w") as out:
        out.write("trade_id,symbol,price,volume,timestamp,exchange\n")
        while out.tell() < per_file:
            out.write(",".join(str(v) for v in trade(k).values()) + "\n")
            k += 1
    return k


def child(drop: Path, landing: Path, whole: bool) -> None:
    """Ingest the drop into ``landing``; print the records, seconds and peak RSS (MB)."""
    started = time.perf_counter()
    chunks, _ = read_new_files({"path": str(drop)}, None)
    if whole:
        chunks = [line for chunk in chunks for line in chunk.lines]  # the old way: one list
    LandingZoneDataset(path=str(landing)).save(chunks)
    seconds = time.perf_counter() - started
    records = sum(1 for f in landing.glob("*.json") for _ in f.open())
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"records": records, "seconds": seconds, "peak_mb": peak_kb / 1024}))


def measure(drop: Path, landing: Path, whole: bool = False) -> dict:
    command = [sys.executable, __file__, "--child", str(drop), str(landing)]
    out = subprocess.run(command + (["--whole"] if whole else []), check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small-mb", type=float, default=2.0)
    parser.add_argument("--factor", type=int, default=10)
    parser.add_argument("--whole", action="store_true", help="also measure the read-whole way")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(Path(args.child[0]), Path(args.child[1]), args.whole)
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        results = {}
        for name, megabytes in (("small", args.small_mb), ("large", args.small_mb * args.factor)):
            drop = root / f"drop_{name}"
            trades = write_drop(drop, megabytes)
            size = sum(f.stat().st_size for f in drop.iterdir()) / 1e6
            result = measure(drop, root / f"landing_{name}")
            assert result["records"] == trades, (result, trades)
            results[name] = result
            line = (f"{name:5} drop: {size:6.1f} MB, {trades:,} trades in "
                    f"{result['seconds']:.1f} s, peak RSS {result['peak_mb']:.0f} MB")
            if args.whole:
                old = measure(drop, root / f"landing_{name}_whole", whole=True)
                line += f" (held whole: {old['peak_mb']:.0f} MB)"
            print(line)
        ratio = results["large"]["peak_mb"] / results["small"]["peak_mb"]
        print(f"large/small peak RSS: {ratio:.2f}x (target <= 1.2x)")


if __name__ == "__main__":
    main()
