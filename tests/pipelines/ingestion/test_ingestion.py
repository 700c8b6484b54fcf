"""The ingestion pipeline, run for real: source -> landing JSON files -> bronze Delta."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from delta.tables import DeltaTable

from financial_mlops.errors import UserError
from financial_mlops.pipelines.ingestion.nodes import fetch_trades

BRONZE = "data/02_intermediate/bronze_trades"
LABELS = "data/02_intermediate/anomaly_labels"
LANDING = "data/01_raw/streaming_landing/trades"


def _simulator(n: int) -> dict:
    return {"ingestion": {"source": "simulator", "simulator": {"trades_per_batch": n}}}


def _files(folder: str) -> dict:
    return {"ingestion": {"source": "files", "files": {"path": folder}}}


def _bronze_version(spark, project) -> int:
    return DeltaTable.forPath(spark, str(project.path(BRONZE))).history(1).collect()[0]["version"]


def test_simulator_batches_land_every_trade_and_label_once(project, read_delta, spark):
    project.run("ingestion", params=_simulator(3000))
    bronze = read_delta(project.path(BRONZE))
    labels = read_delta(project.path(LABELS))
    assert bronze.count() == 3000
    assert bronze.select("trade_id").distinct().count() == 3000
    assert bronze.filter("_raw_record IS NOT NULL").count() == 0
    assert labels.count() == 3000
    assert 0 < labels.filter("is_anomaly = 1").count() < 3000 * 0.05
    first_ids = {r.trade_id for r in bronze.select("trade_id").collect()}

    # Nothing new at the source: bronze does not change, not even by an empty commit.
    version = _bronze_version(spark, project)
    empty = project.path("empty_source")
    empty.mkdir()
    project.run("ingestion", params=_files(str(empty)))
    assert _bronze_version(spark, project) == version
    assert read_delta(project.path(BRONZE)).count() == 3000

    # The next simulator batch continues the market with new trades only.
    project.run("ingestion", params=_simulator(2000))
    bronze = read_delta(project.path(BRONZE))
    assert bronze.count() == 5000
    assert bronze.select("trade_id").distinct().count() == 5000
    new_ids = {r.trade_id for r in bronze.select("trade_id").collect()} - first_ids
    assert len(new_ids) == 2000
    assert read_delta(project.path(LABELS)).count() == 5000


BROKEN_LINES = [
    "this is not json",
    '{"trade_id": "T1", "symbol": "AAPL", "price": "abc", "volume": 100, '
    '"timestamp": "2026-01-05T14:30:00.000Z", "exchange": "XNAS"}',
    '{"trade_id": "T2", "symbol": "AAPL", "price": 190.1, "volume": true, '
    '"timestamp": "2026-01-05T14:30:00.000Z", "exchange": "XNAS"}',
    '{"trade_id": "T3", "symbol": "MSFT"}',
    '{"trade_id": "T4", "symbol": "MSFT", "price": 420.5, "volume": 10, '
    '"timestamp": "2026-01-05T14:30:01.000Z", "exchange": "XNYS", "venue_flag": "x", "n": [1]}',
    '{"trade_id": "T5", "symbol": "ÄPFEL€", "price": 1.5, "volume": 5, '
    '"timestamp": "2026-01-05T14:30:02.000Z", "exchange": "XETR"}',
    "[1, 2, 3]",
    '{"trade_id": "T6", "symbol": "BIG", "price": 1.0, "volume": 1.0, "timestamp": "x", '
    '"exchange": "' + "X" * 200_000 + '"}',
    '{"trade_id": "T7", "price": NaN, "volume": Infinity}',
    "",
    '{"trade_id": "T8", "symbol": "AAPL", "price": 190.2, "volume": 100, '
    '"timestamp": "2026-01-05T14:30:03.000Z", "exchange": "XNAS"}',
]


def test_broken_landing_files_ingest_without_loss(project, read_delta):
    landing = project.path(LANDING)
    landing.mkdir(parents=True)
    (landing / "broken.json").write_text("\n".join(BROKEN_LINES) + "\n", encoding="utf-8")
    (landing / "empty.json").write_text("", encoding="utf-8")
    empty_source = project.path("empty_source")
    empty_source.mkdir()

    project.run("ingestion", params=_files(str(empty_source)))

    bronze = read_delta(project.path(BRONZE)).toPandas()
    assert len(bronze) == len(BROKEN_LINES)
    by_id = bronze.set_index("trade_id", drop=False)
    raw = set(bronze["_raw_record"].dropna())
    # Lines that are not JSON objects, or whose price/volume are not numbers, keep their text.
    assert {"this is not json", "[1, 2, 3]", "", BROKEN_LINES[1], BROKEN_LINES[2]} <= raw
    assert by_id.loc["T4", "price"] == 420.5 and pd.isna(by_id.loc["T4", "_raw_record"])
    assert by_id.loc["T5", "symbol"] == "ÄPFEL€"
    assert len(by_id.loc["T6", "exchange"]) == 200_000
    assert pd.isna(by_id.loc["T3", "price"]) and pd.isna(by_id.loc["T3", "_raw_record"])
    assert by_id.loc["T8", "price"] == 190.2
    assert bronze["_source_file"].str.endswith("broken.json").all()
    assert bronze["_ingested_at"].notna().all()


def test_files_source_reads_json_lines_and_csv_once(project, read_delta):
    source = project.path("source")
    source.mkdir()
    (source / "a.jsonl").write_text(
        json.dumps({"trade_id": "J1", "symbol": "AAPL", "price": 190.0, "volume": 100.0,
                    "timestamp": "2026-01-05T14:30:00.000Z", "exchange": "XNAS"}) + "\n"
        + "not json\n", encoding="utf-8")
    (source / "b.csv").write_text(
        "trade_id,symbol,price,volume,timestamp,exchange\n"
        "C1,MSFT,420.5,200,2026-01-05T14:30:00.000Z,XNYS\n"
        "C2,MSFT,oops\n", encoding="utf-8")
    (source / "notes.txt").write_text("ignored", encoding="utf-8")

    project.run("ingestion", params=_files(str(source)))
    project.run("ingestion", params=_files(str(source)))

    bronze = read_delta(project.path(BRONZE)).toPandas().set_index("trade_id", drop=False)
    assert len(bronze) == 4
    assert bronze.loc["C1", "price"] == 420.5 and bronze.loc["C1", "volume"] == 200.0
    assert bronze.loc["J1", "exchange"] == "XNAS"
    assert set(bronze["_raw_record"].dropna()) == {"not json", "C2,MSFT,oops"}


def test_unknown_source_is_a_one_line_user_error():
    with pytest.raises(UserError, match="ingestion.source 'kafka' is not one of"):
        fetch_trades({"source": "kafka"}, {}, {})


def test_missing_files_folder_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="is not a folder"):
        fetch_trades({"source": "files", "files": {"path": str(tmp_path / "nope")}}, {}, {})
