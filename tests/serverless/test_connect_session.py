"""The lane's session really is Spark Connect: what serverless refuses is refused here too."""

from __future__ import annotations

import pytest
from pyspark.errors import PySparkException

from financial_mlops.datasets import DeltaDataset
from financial_mlops.datasets.delta import MicroBatchStream
from financial_mlops.spark import get_spark
from tests.serverless.conftest import start_with_retries


def test_get_spark_keeps_returning_the_connect_session(spark):
    # The first version read _session.sparkContext._jsc on every call after the first.
    assert get_spark() is spark
    assert get_spark({"spark.master": "local[1]"}) is spark


def test_jvm_handles_and_the_delta_python_api_raise_as_on_serverless(spark, tmp_path):
    with pytest.raises(PySparkException):
        spark.sparkContext  # noqa: B018
    from delta.tables import DeltaTable

    spark.range(3).write.format("delta").save(str(tmp_path / "t"))
    with pytest.raises(Exception):  # noqa: B017  NO_HANDLER_FOR_EXTENSION over local Connect
        DeltaTable.forPath(spark, str(tmp_path / "t")).history(1).collect()


def test_delta_dataset_merges_creates_and_versions_over_connect(spark, tmp_path):
    ddl = "k STRING, v INT, s STRING"
    table = DeltaDataset(path=str(tmp_path / "scores"), schema=ddl,
                         save_args={"mode": "merge", "keys": ["k"], "matches_since": "v",
                                    "properties": {"delta.appendOnly": False, "x.y": "z"}})
    assert table.delta_version() is None
    table.save(spark.createDataFrame([("a", 1, "first"), ("b", 2, "first")], ddl))
    table.save(spark.createDataFrame([("b", 2, "again"), ("c", 3, "again")], ddl))
    rows = sorted(tuple(r) for r in table.load().collect())
    # insert-only MERGE (matches_since v >= 2 as a SQL literal): b keeps its first row
    assert rows == [("a", 1, "first"), ("b", 2, "first"), ("c", 3, "again")]
    assert table.delta_version() == 2  # CREATE, first write, MERGE
    # By name, as Unity Catalog tables are asked (DESCRIBE HISTORY over Connect): the same
    # answers as the table's log files give by path.
    spark.sql(f"CREATE TABLE scores_by_name USING delta LOCATION '{tmp_path / 'scores'}'")
    by_name = DeltaDataset(table="scores_by_name")
    assert by_name.delta_version() == 2
    assert by_name.rows_written(0) == table.rows_written(0) == {
        "inserted": 3, "updated": 0, "deleted": 0}
    properties = {r["key"]: r["value"] for r in
                  spark.sql(f"SHOW TBLPROPERTIES delta.`{tmp_path / 'scores'}`").collect()}
    assert properties["x.y"] == "z"


def test_foreach_batch_writes_through_the_batch_session_in_its_own_process(spark, tmp_path):
    """On serverless a foreachBatch function runs in another Python process: a module-level
    session or a driver-side setting does not exist there (this process's get_spark() would
    start a second, classic Spark)."""
    source, target = tmp_path / "source", tmp_path / "target"
    rows = spark.createDataFrame([("a", 1), ("b", 2)], "k STRING, v INT")
    rows.write.format("delta").save(str(source))
    dataset = DeltaDataset(path=str(target), save_args={
        "mode": "merge", "keys": ["k"], "checkpoint": str(tmp_path / "checkpoint")})
    stream = spark.readStream.format("delta").load(str(source))
    start_with_retries(lambda: dataset.save(MicroBatchStream(stream, _doubled)))
    rows.write.format("delta").mode("append").save(str(source))  # a replay of the same keys
    start_with_retries(lambda: dataset.save(
        MicroBatchStream(spark.readStream.format("delta").load(str(source)), _doubled)))
    assert sorted(tuple(r) for r in dataset.load().collect()) == [("a", 2), ("b", 4)]


def _doubled(batch):
    from pyspark.sql import functions as F

    return batch.withColumn("v", F.col("v") * 2)
