"""DeltaDataset on real Delta tables: modes, idempotent MERGE, and the table properties it sets
when it creates a table (including the Parquet ones Delta hands to the file writer)."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
from kedro.io import DatasetError
from pyspark.sql import functions as F

from financial_mlops.datasets import DeltaDataset

ROWS = [("t1", "AAPL", 1.5), ("t2", "AAPL", 2.5), ("t3", "MSFT", 3.5)]
SCHEMA = "trade_id STRING, symbol STRING, price DOUBLE"
# Repeated values, so that Parquet's dictionary pays off wherever it is allowed.
MANY = [(f"t{i:04}", ("AAPL", "MSFT")[i % 2], float(i % 5)) for i in range(2000)]


def _encodings(table: Path) -> dict[str, set[str]]:
    """Column -> the Parquet encodings used in the table's data files."""
    found: dict[str, set[str]] = {}
    for file in table.glob("*.parquet"):
        metadata = pq.ParquetFile(file).metadata
        for group in range(metadata.num_row_groups):
            for index in range(metadata.num_columns):
                column = metadata.row_group(group).column(index)
                found.setdefault(column.path_in_schema, set()).update(column.encodings)
    return found


def _properties(spark, table: Path) -> dict[str, str]:
    rows = spark.sql(f"SHOW TBLPROPERTIES delta.`{table}`").collect()
    return {row.key: row.value for row in rows}


def test_properties_are_set_on_creation_and_reach_the_parquet_writer(spark, tmp_path):
    table = tmp_path / "gold"
    dataset = DeltaDataset(path=str(table), save_args={"mode": "merge", "keys": ["trade_id"],
                                                       "properties": {
        "delta.dataSkippingNumIndexedCols": 1,
        "parquet.enable.dictionary": False,
        "parquet.enable.dictionary#symbol": True,
    }})
    dataset.save(spark.createDataFrame(MANY, SCHEMA).coalesce(1))

    properties = _properties(spark, table)
    assert properties["delta.dataSkippingNumIndexedCols"] == "1"
    assert properties["parquet.enable.dictionary"] == "false"
    encodings = _encodings(table)
    assert "PLAIN_DICTIONARY" in encodings["symbol"]
    assert "PLAIN_DICTIONARY" not in encodings["price"]
    assert "PLAIN_DICTIONARY" not in encodings["trade_id"]
    assert dataset.load().count() == len(MANY)


def test_without_properties_parquet_keeps_its_dictionaries(spark, tmp_path):
    table = tmp_path / "plain"
    DeltaDataset(path=str(table)).save(spark.createDataFrame(MANY, SCHEMA).coalesce(1))
    assert "PLAIN_DICTIONARY" in _encodings(table)["price"]
    assert "parquet.enable.dictionary" not in _properties(spark, table)


def test_merge_inserts_new_keys_only_and_updates_when_asked(spark, tmp_path):
    path = str(tmp_path / "scores")
    insert_only = DeltaDataset(path=path, save_args={"mode": "merge", "keys": ["trade_id"]})
    insert_only.save(spark.createDataFrame(ROWS, SCHEMA))
    changed = [("t1", "AAPL", 9.0), ("t4", "KO", 4.5)]
    insert_only.save(spark.createDataFrame(changed, SCHEMA))
    insert_only.save(spark.createDataFrame(changed, SCHEMA))  # a replay adds nothing
    prices = {r.trade_id: r.price for r in insert_only.load().collect()}
    assert prices == {"t1": 1.5, "t2": 2.5, "t3": 3.5, "t4": 4.5}

    updating = DeltaDataset(path=path, save_args={"mode": "merge", "keys": ["trade_id"],
                                                  "when_matched": "update"})
    updating.save(spark.createDataFrame(changed, SCHEMA))
    assert {r.trade_id: r.price for r in updating.load().collect()}["t1"] == 9.0
    assert updating.load().count() == 4


def test_matches_since_leaves_older_target_rows_unmatched(spark, tmp_path):
    """Rows older than the source's smallest bound are not matched (their files can be skipped),
    which is why the option is only for keys whose bound column never changes."""
    schema = "trade_id STRING, t LONG"
    dataset = DeltaDataset(path=str(tmp_path / "t"), save_args={
        "mode": "merge", "keys": ["trade_id"], "matches_since": "t"})
    dataset.save(spark.createDataFrame([("a", 1), ("b", 5)], schema))
    dataset.save(spark.createDataFrame([("b", 5), ("c", 6)], schema))
    assert sorted((r.trade_id, r.t) for r in dataset.load().collect()) == [
        ("a", 1), ("b", 5), ("c", 6)]
    dataset.save(spark.createDataFrame([], schema))  # nothing to merge: no new version
    assert dataset.delta_version() == 1


def test_streaming_append_creates_the_table_with_its_properties(spark, tmp_path):
    source = tmp_path / "source"
    spark.createDataFrame(ROWS, SCHEMA).write.format("delta").save(str(source))
    target = tmp_path / "target"
    dataset = DeltaDataset(path=str(target), save_args={
        "mode": "append", "checkpoint": str(tmp_path / "checkpoint"),
        "properties": {"parquet.enable.dictionary#trade_id": False}})
    stream = spark.readStream.format("delta").load(str(source))
    dataset.save(stream.withColumn("price", F.col("price") * 2))
    dataset.save(spark.readStream.format("delta").load(str(source)))  # nothing new: no rows
    assert sorted(r.price for r in dataset.load().collect()) == [3.0, 5.0, 7.0]
    assert _properties(spark, target)["parquet.enable.dictionary#trade_id"] == "false"


def test_missing_table_loads_empty_with_a_schema_and_fails_clearly_without(spark, tmp_path):
    assert DeltaDataset(path=str(tmp_path / "none"), schema=SCHEMA).load().count() == 0
    with pytest.raises(DatasetError, match="does not exist yet"):
        DeltaDataset(path=str(tmp_path / "none")).load()


@pytest.mark.parametrize(("kwargs", "message"), [
    ({}, "exactly one of 'path' or 'table'"),
    ({"path": "a", "table": "b"}, "exactly one of 'path' or 'table'"),
    ({"path": "a", "save_args": {"mode": "upsert"}}, "mode 'upsert' is not one of"),
    ({"path": "a", "save_args": {"mode": "merge"}}, "needs 'keys'"),
])
def test_bad_configuration_is_one_clear_error(kwargs, message):
    with pytest.raises(DatasetError, match=message):
        DeltaDataset(**kwargs)


def test_a_batch_source_is_scored_once_and_refuses_a_processing_time_trigger(spark, tmp_path):
    """How Databricks reads a materialized view: batch, past what the target holds, and only
    as availableNow (serverless has no other trigger)."""
    from financial_mlops.datasets.delta import MicroBatchStream

    target = DeltaDataset(path=str(tmp_path / "scores"),
                          save_args={"mode": "merge", "keys": ["k"]})
    rows = spark.createDataFrame([("a", 1), ("b", 2)], "k STRING, v INT")
    with pytest.raises(DatasetError, match="no 'processingTime=5 seconds' trigger"):
        target.save(MicroBatchStream(rows, lambda batch: batch, "processingTime=5 seconds"))
    target.save(MicroBatchStream(rows, lambda batch: batch.withColumn("v", F.col("v") + 10)))
    target.save(MicroBatchStream(rows, lambda batch: batch))  # a replay adds nothing
    assert sorted(tuple(r) for r in target.load().collect()) == [("a", 11), ("b", 12)]


def test_rows_written_counts_each_commit_from_delta_metrics(spark, tmp_path):
    dataset = DeltaDataset(path=str(tmp_path / "t"), save_args={
        "mode": "merge", "keys": ["trade_id"], "when_matched": "update"})
    dataset.save(spark.createDataFrame(ROWS[:2], SCHEMA))
    assert dataset.rows_written(None) == {"inserted": 2, "updated": 0, "deleted": 0}
    version = dataset.delta_version()
    dataset.save(spark.createDataFrame([("t2", "AAPL", 9.0), ROWS[2]], SCHEMA))
    assert dataset.rows_written(version) == {"inserted": 1, "updated": 1, "deleted": 0}


def test_a_table_on_disk_answers_from_its_log_as_sql_does_by_name(spark, tmp_path):
    """Its existence, version and rows written come from its log files; the same table asked
    by name (through SQL, as Unity Catalog tables are) gives the same answers."""
    save_args = {"mode": "merge", "keys": ["trade_id"], "when_matched": "update"}
    by_path = DeltaDataset(path=str(tmp_path / "t"), save_args=save_args)
    assert (by_path._exists(), by_path.delta_version(), by_path.rows_written(None)) == (
        False, None, {})
    by_path.save(spark.createDataFrame(ROWS[:2], SCHEMA))
    by_path.save(spark.createDataFrame([("t2", "AAPL", 9.0), ROWS[2]], SCHEMA))
    spark.sql(f"DELETE FROM delta.`{tmp_path / 't'}` WHERE trade_id = 't1'")
    spark.sql(f"CREATE TABLE log_parity USING delta LOCATION '{tmp_path / 't'}'")
    try:
        by_name = DeltaDataset(table="log_parity", save_args=save_args)
        assert by_path._local_log is not None and by_name._local_log is None
        assert by_path._exists() and by_name._exists()
        assert by_path.delta_version() == by_name.delta_version() == 2
        for since in (None, 0, 1, 2):
            assert by_path.rows_written(since) == by_name.rows_written(since), since
        assert by_path.rows_written(0)["updated"] == 1
        assert by_path.statistics() == by_name.statistics()  # the size from its .crc file
        assert by_path.statistics()["rows"] == 2
    finally:
        spark.sql("DROP TABLE log_parity")  # the files stay: the table is external


@pytest.mark.parametrize(("path", "local"), [
    ("dbfs:/Volumes/main/fin/gold", None), ("s3://bucket/gold", None),
    ("file:/data/gold", Path("/data/gold/_delta_log"))])
def test_a_path_with_a_scheme_is_spark_s_to_resolve(path, local):
    """Only a bare path is made absolute (and read from its log); ``dbfs:/`` has no ``//``."""
    dataset = DeltaDataset(path=path)
    assert dataset._identifier == f"delta.`{path}`"
    assert dataset._local_log == local


def test_a_bare_path_is_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    dataset = DeltaDataset(path="data/gold")
    assert dataset._identifier == f"delta.`{tmp_path / 'data/gold'}`"
    assert dataset._local_log == tmp_path / "data/gold/_delta_log"


def test_preview_and_statistics_for_kedro_viz(spark, tmp_path):
    dataset = DeltaDataset(path=str(tmp_path / "t"))
    assert dataset.preview() == {"columns": [], "index": [], "data": []}
    assert dataset.statistics() == {}
    dataset.save(spark.createDataFrame(ROWS, SCHEMA).withColumn("at", F.current_timestamp()))
    preview = dataset.preview(nrows=2)
    assert preview["columns"] == ["trade_id", "symbol", "price", "at"]
    assert len(preview["data"]) == 2 and isinstance(preview["data"][0][3], str)  # JSON-ready
    stats = dataset.statistics()
    assert (stats["rows"], stats["columns"]) == (3, 4) and stats["file_size"] > 0
    assert dataset._describe()["filepath"] == str(tmp_path / "t")  # kedro-viz's "File Path"
