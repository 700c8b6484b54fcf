"""The files source on a folder of everyday exports, run for real through ingestion and
features: every trade once in silver, only the truly broken rows in quarantine, the file of
an unknown type named in the log."""

from __future__ import annotations

import bz2
import gzip
import json
import logging

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from financial_mlops.sources.files import read_new_files

SILVER = "data/03_primary/silver_trades"
QUARANTINE = "data/03_primary/silver_trades_quarantine"
BRONZE = "data/02_intermediate/bronze_trades"
EPOCH_MS = 1767623400000  # 2026-01-05T14:30:00Z


def trade(trade_id: str, k: int, **fields) -> dict:
    return {"trade_id": trade_id, "symbol": "AAPL", "price": 190.0 + k, "volume": 100.0 + k,
            "timestamp": f"2026-01-05T14:30:{k:02d}.000Z", "exchange": "XNAS", **fields}


def csv_text(rows: list[dict], quote: bool) -> str:
    fields = list(rows[0])
    cell = (lambda v: f'"{v}"') if quote else str
    return "\r\n".join([",".join(fields), *(",".join(cell(r[f]) for f in fields) for r in rows)])


def build_corpus(folder) -> tuple[set[str], dict[str, set[str]]]:
    """Write one file per format; return the valid trade ids and the broken rows' reasons."""
    folder.mkdir()
    ids: set[str] = set()

    def take(prefix: str, n: int, **fields) -> list[dict]:
        rows = [trade(f"{prefix}{k}", k, **fields) for k in range(n)]
        ids.update(r["trade_id"] for r in rows)
        return rows

    lines = [json.dumps(r) for r in take("JL", 3)]
    (folder / "lines.jsonl").write_text(
        "\ufeff" + "\r\n".join([lines[0], "", "this is not json", *lines[1:]]) + "\r\n",
        encoding="utf-8")
    (folder / "export.json").write_text(json.dumps(take("ARR", 4), indent=2))
    (folder / "one.json").write_text(json.dumps(take("ONE", 1)[0], indent=4))
    epoch_rows = take("EPO", 3)
    for k, row in enumerate(epoch_rows):
        row["timestamp"] = EPOCH_MS + k  # milliseconds since 1970, as exchange APIs give them
    (folder / "epoch.ndjson").write_text("\n".join(json.dumps(r) for r in epoch_rows))
    (folder / "quoted.csv").write_text(
        csv_text(take("QC", 3, symbol="BRK.B"), quote=True) + '\r\n"QCX","AAPL","oops"\r\n')
    (folder / "plain.csv").write_text(csv_text(take("PC", 3), quote=False) + "\n")
    pq.write_table(pa.Table.from_pylist(take("PQ", 5)), folder / "big.parquet")
    stamped = pd.DataFrame(take("PQT", 2))
    stamped["timestamp"] = pd.to_datetime(stamped["timestamp"]).dt.tz_convert("Europe/Berlin")
    stamped.to_parquet(folder / "stamped.parquet")  # a real timestamp column, not UTC
    (folder / "zipped.jsonl.gz").write_bytes(
        gzip.compress("\n".join(json.dumps(r) for r in take("GZ", 3)).encode()))
    (folder / "zipped.csv.zst").write_bytes(
        zstandard.ZstdCompressor().compress(csv_text(take("ZS", 2), quote=False).encode()))
    (folder / "zipped.json.bz2").write_bytes(bz2.compress(json.dumps(take("BZ", 2)).encode()))
    (folder / "report.xlsx").write_bytes(b"PK\x03\x04 not a trade file")
    (folder / ".upload.jsonl.partial").write_text("in progress")  # hidden: not read, not named
    broken = {"this is not json": {"record_parsed"}, "QCX,AAPL,oops": {"record_parsed"}}
    return ids, broken


@pytest.mark.slow
def test_a_folder_of_everyday_exports_ingests_every_trade_once(project, read_delta, caplog):
    source = project.path("drop")
    ids, broken = build_corpus(source)
    params = {"ingestion": {"source": "files", "files": {"path": str(source), "chunk_rows": 2}}}

    with caplog.at_level(logging.WARNING, logger="financial_mlops.sources.files"):
        project.run(["ingestion", "features"], params=params)
        project.run("ingestion", params=params)  # nothing new: nothing added

    skipped = [r.getMessage() for r in caplog.records if "unknown type" in r.getMessage()]
    assert len(skipped) == 2  # one line per run
    assert "skipped 1 file(s)" in skipped[0] and "report.xlsx" in skipped[0]
    assert "upload" not in skipped[0]

    bronze = read_delta(project.path(BRONZE))
    assert bronze.count() == len(ids) + len(broken)  # blank lines are not records
    silver = read_delta(project.path(SILVER)).toPandas()
    assert sorted(silver["trade_id"]) == sorted(ids)
    quarantine = read_delta(project.path(QUARANTINE)).toPandas()
    reasons = {(row.trade_id if pd.notna(row.trade_id) else row.raw_record): set(row.broken_rules)
               for row in quarantine.itertuples()}
    assert reasons == broken

    by_id = silver.set_index("trade_id")
    utc = pd.Timestamp("2026-01-05T14:30:00")
    assert by_id.loc["EPO0", "event_time"] == utc
    assert by_id.loc["EPO2", "event_time"] == utc + pd.Timedelta(milliseconds=2)
    assert by_id.loc["PQT1", "event_time"] == utc + pd.Timedelta(seconds=1)
    assert by_id.loc["ARR3", "price"] == 193.0 and by_id.loc["QC2", "symbol"] == "BRK.B"


def test_a_rewritten_file_is_read_again_under_new_landing_names(tmp_path):
    folder = tmp_path / "drop"
    folder.mkdir()
    (folder / "a.jsonl").write_text("\n".join(json.dumps(trade(f"A{k}", k)) for k in range(5)))
    chunks, cursor = read_new_files({"path": str(folder), "chunk_rows": 2}, None)
    first = [(c.name, len(c.lines)) for c in chunks]
    assert [n for _, n in first] == [2, 2, 1]

    again, same_cursor = read_new_files({"path": str(folder), "chunk_rows": 2}, None)
    assert [c.name for c in again] == [name for name, _ in first]  # a re-fetch replaces
    assert list(read_new_files({"path": str(folder)}, cursor)[0]) == []  # read once

    (folder / "a.jsonl").write_text(json.dumps(trade("A9", 9)))
    rewritten = list(read_new_files({"path": str(folder), "chunk_rows": 2}, cursor)[0])
    assert len(rewritten) == 1 and rewritten[0].name not in {name for name, _ in first}
    assert json.loads(rewritten[0].lines[0])["trade_id"] == "A9"


def test_a_json_array_is_streamed_and_a_broken_element_kept_raw(tmp_path):
    folder = tmp_path / "drop"
    folder.mkdir()
    elements = [json.dumps(trade(f"E{k}", k % 60)) for k in range(3000)]
    elements.insert(1500, '{"trade_id": "BAD", "price": 1,}')
    (folder / "big.json").write_text("[\n" + ",\n".join(elements) + "\n]\n")
    records = [line for chunk in read_new_files({"path": str(folder)}, None)[0]
               for line in chunk.lines]
    assert len(records) == 3001
    assert records[1500].startswith('{"trade_id": "BAD"')
    assert [json.loads(r)["trade_id"] for r in records[:3]] == ["E0", "E1", "E2"]


def test_a_damaged_archive_keeps_what_it_could_read_and_says_so(tmp_path, caplog):
    folder = tmp_path / "drop"
    folder.mkdir()
    lines = "\n".join(json.dumps(trade(f"D{k}", k % 60, note=str(k) * 40)) for k in range(2000))
    packed = gzip.compress(lines.encode(), mtime=0)
    (folder / "cut.jsonl.gz").write_bytes(packed[: len(packed) // 2])
    with caplog.at_level(logging.WARNING, logger="financial_mlops.sources.files"):
        records = [line for chunk in read_new_files({"path": str(folder)}, None)[0]
                   for line in chunk.lines]
    assert records[-1].startswith("unreadable rest of file cut.jsonl.gz: EOFError")
    assert 0 < len(records) - 1 < 2000
    assert "cut.jsonl.gz" in caplog.text
