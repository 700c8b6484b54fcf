"""Exports dropped straight into the landing folder, read by the declarative pipeline's bronze
(Spark's file source here, Auto Loader with the same options on Databricks): JSON lines, JSON
arrays, one object per file, gzip/bz2/zstd-compressed; other files are not read."""

from __future__ import annotations

import bz2
import gzip
import json

import pytest
import zstandard

from financial_mlops.datasets.landing import read_landing_exports
from financial_mlops.declarative import run_local


def trade(trade_id: str, k: int) -> dict:
    return {"trade_id": trade_id, "symbol": "AAPL", "price": 190.0 + k, "volume": 100.0 + k,
            "timestamp": 1767623400000 + k, "exchange": "XNAS"}


def write_exports(folder) -> set[str]:
    """One file per form; returns the ids of the valid trades. Two lines are broken."""
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
    (folder / "notes.txt").write_text(json.dumps(trade("NO", 11)))  # not an export: not read
    return {"L1", "L2", "A1", "A2", "O1", "K1", "K2", "G1", "B1", "Z1"}


def test_the_landing_file_source_reads_every_export_form(spark, tmp_path):
    landing = tmp_path / "landing"
    ids = write_exports(landing)
    query = (read_landing_exports(spark, str(landing), "text").writeStream.format("memory")
             .queryName("exports").trigger(availableNow=True).start())
    query.awaitTermination()
    values = [r.value for r in spark.table("exports").collect()]
    parsed = [json.loads(v) for v in values if v not in ("not json", "{broken")]
    assert sorted(p["trade_id"] for p in parsed) == sorted(ids)
    assert sorted(v for v in values if v in ("not json", "{broken")) == ["not json", "{broken"]


@pytest.mark.slow
def test_declarative_pipeline_takes_exports_dropped_in_landing(project, spark):
    landing = project.path("data/01_raw/streaming_landing/trades")
    ids = write_exports(landing)
    root = project.path("declarative")
    run_local.run(root, landing, project.conf, env="base")

    silver = spark.read.parquet(str(root / "warehouse" / "silver_trades"))
    assert sorted(r.trade_id for r in silver.select("trade_id").collect()) == sorted(ids)
    quarantine = spark.read.parquet(str(root / "warehouse" / "silver_trades_quarantine"))
    assert sorted((r.raw_record, tuple(r.broken_rules)) for r in quarantine.collect()) == [
        ("not json", ("record_parsed",)), ("{broken", ("record_parsed",))]
