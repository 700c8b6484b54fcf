"""Exports dropped straight into the landing folder, read by the declarative pipeline's bronze
(Spark's file sources here, Auto Loader with the same options on Databricks): JSON lines, JSON
arrays, one object per file, CSV (quoted or not, columns in any order), Parquet (typed or epoch
timestamps), gzip/bz2/zstd-compressed; other files are not read."""

from __future__ import annotations

import bz2
import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from pyspark.sql import functions as F

from financial_mlops.datasets.landing import read_landing_exports
from financial_mlops.declarative import run_local
from financial_mlops.features.bronze import parse_landing_lines
from financial_mlops.features.silver import event_time


def trade(trade_id: str, k: int) -> dict:
    return {"trade_id": trade_id, "symbol": "AAPL", "price": 190.0 + k, "volume": 100.0 + k,
            "timestamp": 1767623400000 + k, "exchange": "XNAS"}


def write_exports(folder) -> set[str]:
    """One file per form; returns the ids of the valid trades. Three records are broken."""
    folder.mkdir(parents=True)
    (folder / "lines.jsonl").write_text(
        json.dumps(trade("L1", 1)) + "\r\nnot json\r\n" + json.dumps(trade("L2", 2)) + "\r\n")
    (folder / "array.json").write_text(json.dumps([trade("A1", 3), trade("A2", 4)], indent=2))
    (folder / "object.json").write_text("\ufeff" + json.dumps(trade("O1", 5), indent=2))
    (folder / "landed.json").write_text(  # what the Kedro ingestion writes: JSON lines
        json.dumps(trade("K1", 6)) + "\n{broken\n" + json.dumps(trade("K2", 7)) + "\n")
    (folder / "array.json.gz").write_bytes(gzip.compress(json.dumps([trade("G1", 8)]).encode()))
    (folder / "lines.ndjson.bz2").write_bytes(bz2.compress(json.dumps(trade("B1", 9)).encode()))
    (folder / "lines.jsonl.zst").write_bytes(
        zstandard.ZstdCompressor().compress((json.dumps(trade("Z1", 10)) + "\n").encode()))
    (folder / "quoted.csv").write_text(  # quoted fields, a comma and a line break in one
        '"trade_id","symbol","price","volume","timestamp","exchange","note"\r\n'
        '"Q1","AAPL","191.5","100","2026-01-05 14:30:07.250","XNAS","late, see\nticket"\r\n')
    (folder / "reordered.csv.gz").write_bytes(gzip.compress(  # other order, one short row
        b"exchange,timestamp,trade_id,symbol,volume,price\n"
        b"XNAS,1767623400,R1,AAPL,10,190.5\nC9,AAPL\nXNAS,2026-01-05T14:30:00+01:00,R2,AAPL,5,191\n"))
    typed = pa.table({"trade_id": ["P1"], "symbol": ["AAPL"], "price": [190.25], "volume": [7.0],
                      "timestamp": pa.array([1767623400123456], pa.timestamp("us", tz="UTC")),
                      "exchange": ["XNAS"]})
    pq.write_table(typed, folder / "typed.parquet")
    epochs = pa.table({"trade_id": ["E1", "E2"], "symbol": ["AAPL"] * 2, "price": [190, 191],
                       "volume": [1, 2], "timestamp": [1767623400000, 1767623400001000000],
                       "exchange": ["XNAS"] * 2})
    sink = pa.BufferOutputStream()
    pq.write_table(epochs, sink)
    (folder / "epochs.pq.zst").write_bytes(
        zstandard.ZstdCompressor().compress(sink.getvalue().to_pybytes()))
    (folder / "notes.txt").write_text(json.dumps(trade("NO", 11)))  # not an export: not read
    return {"L1", "L2", "A1", "A2", "O1", "K1", "K2", "G1", "B1", "Z1", "Q1", "R1", "R2", "P1",
            "E1", "E2"}


BROKEN = ["C9,AAPL", "not json", "{broken"]
ON_THE_HALF_HOUR = 1767623400_000000  # 2026-01-05T14:30:00Z in microseconds
INSTANTS = {"Q1": ON_THE_HALF_HOUR + 7_250000, "R1": ON_THE_HALF_HOUR,
            "R2": ON_THE_HALF_HOUR - 3600_000000, "P1": ON_THE_HALF_HOUR + 123456,
            "E1": ON_THE_HALF_HOUR, "E2": ON_THE_HALF_HOUR + 1000}


def test_the_landing_file_source_reads_every_export_form(spark, tmp_path):
    landing = tmp_path / "landing"
    ids = write_exports(landing)
    query = (read_landing_exports(spark, str(landing), "text").writeStream.format("memory")
             .queryName("exports").trigger(availableNow=True).start())
    query.awaitTermination()
    values = [r.value for r in spark.table("exports").collect()]
    parsed = [json.loads(v) for v in values if v not in BROKEN]
    assert sorted(p["trade_id"] for p in parsed) == sorted(ids)
    assert sorted(v for v in values if v in BROKEN) == BROKEN
    assert {p["trade_id"]: p.get("note") for p in parsed}["Q1"] == "late, see\nticket"
    # Each form's timestamp (text, epoch number, Parquet TIMESTAMP) names the instant it says.
    times = parse_landing_lines(spark.table("exports")).select(
        "trade_id", F.unix_micros(event_time(F.col("timestamp"))).alias("us"))
    assert {r.trade_id: r.us for r in times.collect() if r.trade_id in INSTANTS} == INSTANTS


@pytest.mark.slow
def test_declarative_pipeline_takes_exports_dropped_in_landing(project, spark, connect_port):
    landing = project.path("data/01_raw/streaming_landing/trades")
    ids = write_exports(landing)
    root = project.path("declarative")
    run_local.run(root, landing, project.conf, env="base")

    silver = spark.read.parquet(str(root / "warehouse" / "silver_trades"))
    assert sorted(r.trade_id for r in silver.select("trade_id").collect()) == sorted(ids)
    quarantine = spark.read.parquet(str(root / "warehouse" / "silver_trades_quarantine"))
    assert sorted((r.raw_record, tuple(r.broken_rules)) for r in quarantine.collect()) == [
        (raw, ("record_parsed",)) for raw in BROKEN]
