"""A Delta table as a Kedro dataset: batch or streaming, append, overwrite or idempotent MERGE.

kedro-datasets' Spark datasets write Delta by path with append/overwrite only, and its
``DeltaTableDataset`` is read-only; ``databricks.ManagedTableDataset`` merges but only by table
name in a metastore. Every stage here needs MERGE (silver, gold, scores are re-runnable) and
streaming with ``availableNow`` plus ``awaitTermination`` (bronze, inference), on a local path and
on a Unity Catalog table alike, so this one class does both.

It speaks SQL to Delta (``MERGE INTO``, ``DESCRIBE HISTORY``, ``CREATE TABLE ... TBLPROPERTIES``),
never Delta's Python ``DeltaTable`` API: that API needs the JVM and is not available over Spark
Connect (serverless jobs), while the SQL runs on classic and Connect sessions alike. A table on
this machine's disk answers its version and commit metrics from its log files (``delta_log``).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pandas as pd
from kedro.io import AbstractDataset, DatasetError
from kedro_datasets._typing import TablePreview
from pyspark.errors import AnalysisException, PySparkException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import DataStreamWriter, StreamingQuery
from pyspark.sql.types import StructType, TimestampType

from financial_mlops.datasets.delta_log import (
    commit_versions,
    local_log,
    operation_metrics,
    version_checksum,
)
from financial_mlops.errors import DatasetUserError
from financial_mlops.relocation import reroot_checkpoint
from financial_mlops.spark import conf_string, from_pandas, get_spark

_MODES = {"append", "overwrite", "merge"}
# How long a stop signal waits for the micro-batch in flight before stopping the query anyway.
_STOP_GRACE_SECONDS = 120

logger = logging.getLogger(__name__)


class ColumnsChangedError(DatasetUserError):
    """A MERGE whose rows have other columns than the table: one line, naming the fix."""


@dataclass(frozen=True)
class MicroBatchStream:
    """A stream to save whose every micro-batch goes through ``prepare`` on the driver first.

    For what must be decided per micro-batch rather than once when the query starts (the live
    champion model: a plan built at start would keep the old one). ``trigger`` (availableNow |
    processingTime=<d>) overrides the dataset's, so a node can take it from its parameters.
    """

    stream: DataFrame
    prepare: Callable[[DataFrame], DataFrame]
    trigger: str | None = None


class DeltaDataset(AbstractDataset[DataFrame, DataFrame]):
    """A Delta table at ``path`` (local, DBFS, Volumes) or named ``table`` (Unity Catalog).

    Load: a batch DataFrame, or a stream with ``load_args: {streaming: true}``. A table that does
    not exist yet loads as an empty DataFrame when ``schema`` (DDL) is given.

    Save (``save_args``):
      - ``mode``: ``append`` | ``overwrite`` | ``merge`` (MERGE on ``keys``; matched rows are
        left alone unless ``when_matched: update``, so replays insert nothing twice;
        ``matches_since: <column>`` lets only target rows at or after the source's smallest
        ``<column>`` match, so Delta skips older files and a MERGE costs what the source holds,
        not what the table holds: for keys whose ``<column>`` never changes); a MERGE whose rows
        have other columns than the table is refused with ``on_columns_changed`` as the fix to
        name (rows written before a change would otherwise keep the old columns);
      - a streaming DataFrame is written with ``trigger`` (default ``availableNow``) and a
        ``checkpoint``, and the save waits until the available data is written; with ``merge``
        each micro-batch is merged through ``foreachBatch``. A ``MicroBatchStream`` is saved the
        same way, each micro-batch through its ``prepare`` first. A ``processingTime`` stream
        runs until SIGINT or SIGTERM, then stops between two micro-batches and the save returns;
      - ``properties``: table properties set when the save creates the table. Delta passes them
        to the Parquet writer too, so ``parquet.*`` keys tune the files of this table alone
        (e.g. ``parquet.enable.dictionary: false`` for columns of distinct doubles).
    """

    def __init__(  # noqa: PLR0913
        self,
        *,
        path: str | None = None,
        table: str | None = None,
        schema: str | None = None,
        load_args: dict[str, Any] | None = None,
        save_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        if (path is None) == (table is None):
            raise DatasetError("DeltaDataset needs exactly one of 'path' or 'table'.")
        self._path = path
        self._table = table
        self._schema = schema
        self._load_args = dict(load_args or {})
        self._save_args = {"mode": "append", **(save_args or {})}
        self.metadata = metadata
        mode = self._save_args["mode"]
        if mode not in _MODES:
            raise DatasetError(f"DeltaDataset mode '{mode}' is not one of {sorted(_MODES)}.")
        if mode == "merge" and not self._save_args.get("keys"):
            raise DatasetError("DeltaDataset mode 'merge' needs 'keys'.")

    @property
    def location(self) -> str:
        return self._table or self._path  # type: ignore[return-value]

    def _describe(self) -> dict[str, Any]:
        # ``filepath``: what kedro-viz shows as the dataset's "File Path".
        return {"location": self.location, "filepath": self.location,
                "load_args": self._load_args, "save_args": self._save_args}

    @staticmethod
    def _spark() -> SparkSession:
        return get_spark()

    @property
    def _identifier(self) -> str:
        """The table in SQL: its name, or ``delta.`<path>``` for a path."""
        if self._table:
            return self._table
        # A scheme (s3://, dbfs:/, file:) is Spark's to resolve; a bare path is made absolute.
        path = self._path if urlparse(self._path).scheme else os.path.abspath(self._path)
        return "delta.`" + path.replace("`", "``") + "`"

    @property
    def _local_log(self) -> Path | None:
        """The ``_delta_log`` folder when the table is on this machine's disk (see
        ``delta_log``: its version and commit metrics are then read from there)."""
        return None if self._table else local_log(self._path)

    def _exists(self, spark: SparkSession | None = None) -> bool:
        if self._local_log is not None:
            return bool(commit_versions(self._local_log))
        spark = spark or self._spark()
        if self._table:
            return spark.catalog.tableExists(self._table)
        try:
            spark.sql(f"DESCRIBE DETAIL {self._identifier}").collect()
        except AnalysisException:  # no Delta table (yet) at that path
            return False
        return True

    def _load(self) -> DataFrame:
        spark = self._spark()
        options = dict(self._load_args)
        streaming = options.pop("streaming", False)
        if not self._exists(spark):
            if self._schema and not streaming:
                return spark.createDataFrame([], self._schema)
            raise DatasetError(f"Delta table {self.location} does not exist yet.")
        reader = (spark.readStream if streaming else spark.read).format("delta").options(**options)
        return reader.table(self._table) if self._table else reader.load(self._path)

    def _read_batch(self, spark: SparkSession | None = None) -> DataFrame:
        reader = (spark or self._spark()).read.format("delta")
        return reader.table(self._table) if self._table else reader.load(self._path)

    def preview(self, nrows: int = 5) -> TablePreview:
        """The first ``nrows`` rows, JSON-ready, for kedro-viz's preview (Kedro's dataset
        ``preview`` contract); a table not created yet previews empty."""
        if not self._exists():
            return TablePreview({"columns": [], "index": [], "data": []})
        rows = self._read_batch().limit(nrows).toPandas()
        return TablePreview(json.loads(rows.to_json(orient="split", date_format="iso")))

    def statistics(self) -> dict[str, int]:
        """Rows, columns and size in bytes, as kedro-viz shows them: from the Delta log (a
        count is answered from the files' statistics, without reading them)."""
        log, checksum = self._local_log, None
        if log is not None:
            versions = commit_versions(log)  # listed once: none, no table
            if not versions:
                return {}
            checksum = version_checksum(log, versions[-1])
        elif not self._exists():
            return {}
        if checksum:  # on disk: the size after the last commit, without a DESCRIBE job
            size = checksum["tableSizeBytes"]
        else:
            detail = self._spark().sql(f"DESCRIBE DETAIL {self._identifier}")
            size = detail.select("sizeInBytes").first()[0]
        data = self._read_batch()
        return {"rows": data.count(), "columns": len(data.columns), "file_size": int(size)}

    def delta_version(self) -> int | None:
        """The table's current Delta version (for lineage tags), or None when it has none to
        give: not created yet, or a table a declarative pipeline owns (a materialized view has
        no Delta history to read)."""
        if self._local_log is not None:
            return max(commit_versions(self._local_log), default=None)
        try:
            history = self._spark().sql(f"DESCRIBE HISTORY {self._identifier} LIMIT 1").first()
        except PySparkException as error:  # lineage never fails a run
            logger.info("No Delta version for %s: %s", self.location,
                        str(error).splitlines()[0])
            return None
        return None if history is None else int(history["version"])

    def rows_written(self, since_version: int | None) -> dict[str, int]:
        """Rows the commits after ``since_version`` (None: all) inserted, updated and deleted,
        from Delta's own commit metrics: no pass over the data. SQL, so Spark Connect has it."""
        since = -1 if since_version is None else since_version
        log = self._local_log
        if log is not None:
            versions = commit_versions(log)  # listed once: none, no table
            if not versions:
                return {}
            commits = [operation_metrics(log, v) for v in versions if v > since]
        else:
            if not self._exists():
                return {}
            history = self._spark().sql(f"DESCRIBE HISTORY {self._identifier}")
            commits = [row[0] or {} for row in history.where(F.col("version") > since)
                       .select("operationMetrics").collect()]
        totals = {"inserted": 0, "updated": 0, "deleted": 0}
        for commit in commits:
            metrics = {k: int(v) for k, v in commit.items() if v.isdigit()}
            totals["inserted"] += metrics.get("numTargetRowsInserted",
                                              metrics.get("numOutputRows", 0))
            totals["updated"] += metrics.get("numTargetRowsUpdated", 0)
            totals["deleted"] += metrics.get("numTargetRowsDeleted", 0)
        return totals

    def _save(self, data: DataFrame | pd.DataFrame | MicroBatchStream) -> None:
        if isinstance(data, MicroBatchStream):
            if data.stream.isStreaming:
                self._save_stream(data.stream, data.prepare, data.trigger)
                return
            if (data.trigger or "availableNow") != "availableNow":
                raise DatasetError(
                    f"{self.location}: a batch source has no '{data.trigger}' trigger; run it "
                    "as availableNow (a continuous job reruns it)")
            data = data.prepare(data.stream)
        if isinstance(data, pd.DataFrame):
            data = from_pandas(self._spark(), data, self._schema)
        if data.isStreaming:
            self._save_stream(data)
        else:
            self._save_batch(data)

    def _save_batch(self, data: DataFrame) -> None:
        """A batch DataFrame, through the session it belongs to (in ``foreachBatch`` that is
        the micro-batch's own session, in another process on serverless)."""
        if self._save_args["mode"] == "merge":
            self._merge(data)
        else:
            self._write(data, self._save_args["mode"])

    def _create_if_missing(self, spark: SparkSession, schema: StructType) -> None:
        """Create the table with ``properties`` before the first write, which then appends to it
        (a writer option only sets properties named ``delta.*``)."""
        properties = self._save_args.get("properties")
        if not properties or self._exists(spark):
            return
        columns = ", ".join(f"`{field.name}` {field.dataType.simpleString()}"
                            for field in schema.fields)
        partitions = self._save_args.get("partition_by")
        partitioned = (" PARTITIONED BY (" + ", ".join(f"`{c}`" for c in partitions) + ")"
                       if partitions else "")
        props = ", ".join(f"'{key}' = '{value}'"
                          for key, value in table_properties(properties).items())
        spark.sql(f"CREATE TABLE IF NOT EXISTS {self._identifier} ({columns}) USING delta"
                  f"{partitioned} TBLPROPERTIES ({props})")

    def _write(self, data: DataFrame, mode: str) -> None:
        self._create_if_missing(data.sparkSession, data.schema)
        writer = data.write.format("delta").mode(mode).options(**self._save_args.get("options", {}))
        if self._save_args.get("partition_by"):
            writer = writer.partitionBy(*self._save_args["partition_by"])
        if self._table:
            writer.saveAsTable(self._table)
        else:
            writer.save(self._path)

    def _merge(self, data: DataFrame) -> None:
        """MERGE on the keys: new keys are inserted, matched rows updated only if asked."""
        spark = data.sparkSession
        if not self._exists(spark):
            self._write(data, "append")
            return
        self._check_columns(data)
        keys = self._save_args["keys"]
        condition = " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in keys)
        since = self._save_args.get("matches_since")
        if since:
            lowest = _lowest(data, since)
            if lowest is None:  # nothing to merge
                return
            condition += f" AND t.`{since}` >= {lowest}"
        matched = " WHEN MATCHED THEN UPDATE SET *" if (
            self._save_args.get("when_matched") == "update") else ""
        source = f"_merge_source_{uuid.uuid4().hex}"
        data.createOrReplaceTempView(source)
        try:
            spark.sql(f"MERGE INTO {self._identifier} t USING {source} s ON {condition}"
                      f"{matched} WHEN NOT MATCHED THEN INSERT *")
        finally:
            spark.catalog.dropTempView(source)

    def _check_columns(self, data: DataFrame) -> None:
        table = self._read_batch(data.sparkSession).columns  # the batch's own session
        added = [c for c in data.columns if c not in table]
        dropped = [c for c in table if c not in data.columns]
        if added or dropped:
            fix = self._save_args.get("on_columns_changed", "rebuild the table")
            raise ColumnsChangedError(
                f"{self.location} was written with other columns (new: {', '.join(added) or '-'};"
                f" gone: {', '.join(dropped) or '-'}): {fix}")

    def _save_stream(self, data: DataFrame,
                     prepare: Callable[[DataFrame], DataFrame] | None = None,
                     trigger: str | None = None) -> None:
        checkpoint = self._save_args.get("checkpoint")
        if not checkpoint:
            raise DatasetError(f"Streaming into {self.location} needs save_args.checkpoint.")
        if "://" not in checkpoint and not checkpoint.startswith("/"):
            # The JVM resolves relative paths against its own start folder, not Python's cwd.
            checkpoint = os.path.abspath(checkpoint)
        if not urlparse(checkpoint).scheme:  # a local folder: may have been copied or moved
            reroot_checkpoint(checkpoint)
        writer: DataStreamWriter = data.writeStream.option("checkpointLocation", checkpoint)
        trigger = trigger or self._save_args.get("trigger", "availableNow")
        writer = _with_trigger(writer, trigger)
        if self._save_args["mode"] == "merge" or prepare:
            query = writer.foreachBatch(_BatchWriter(self, prepare)).start()
        else:
            self._create_if_missing(data.sparkSession, data.schema)
            writer = writer.format("delta").outputMode("append").options(
                **self._save_args.get("options", {}))
            query = writer.toTable(self._table) if self._table else writer.start(self._path)
        if trigger == "availableNow":
            query.awaitTermination()
        else:
            _run_until_signalled(query)


@dataclass(frozen=True)
class _BatchWriter:
    """The ``foreachBatch`` function: pickled with what it needs (the dataset's settings, the
    ``prepare`` callable), it writes each micro-batch through the batch's own session. On
    serverless and standard access mode it runs in another Python process, where the driver's
    module-level session and MLflow settings do not exist."""

    dataset: DeltaDataset
    prepare: Callable[[DataFrame], DataFrame] | None

    def __call__(self, batch: DataFrame, _batch_id: int) -> None:
        self.dataset._save_batch(self.prepare(batch) if self.prepare else batch)


def table_properties(properties: dict[str, Any]) -> dict[str, str]:
    """Table properties as Delta stores them. Shared with the declarative pipeline's tables."""
    return {key: conf_string(value) for key, value in properties.items()}


def _run_until_signalled(query: StreamingQuery) -> None:
    """Wait on a stream that never ends by itself until SIGINT or SIGTERM (Ctrl-C, a job being
    cancelled), then stop it between two micro-batches so that it exits cleanly."""
    signalled = threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():  # signals reach the main thread
        previous = {sig: signal.signal(sig, lambda *_: signalled.set())
                    for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not query.awaitTermination(1):
            if signalled.is_set():
                logger.info("Stop signal: stopping stream %s after its micro-batch in flight",
                            query.id)
                deadline = time.monotonic() + _STOP_GRACE_SECONDS
                while query.status["isTriggerActive"] and time.monotonic() < deadline:
                    time.sleep(0.2)
                query.stop()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _lowest(data: DataFrame, column: str) -> str | None:
    """The smallest ``column`` of ``data`` as a SQL literal, None when ``data`` is empty.
    Timestamps go through epoch microseconds, so no time-zone conversion can shift the bound."""
    if isinstance(data.schema[column].dataType, TimestampType):
        micros = data.agg(F.min(F.unix_micros(column))).first()[0]
        return None if micros is None else f"timestamp_micros({int(micros)})"
    value = data.agg(F.min(column)).first()[0]
    if value is None:
        return None
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def _with_trigger(writer: DataStreamWriter, trigger: str) -> DataStreamWriter:
    """``availableNow`` or ``processingTime=<interval>`` (e.g. ``processingTime=5 seconds``)."""
    if trigger == "availableNow":
        return writer.trigger(availableNow=True)
    kind, _, interval = trigger.partition("=")
    if kind != "processingTime" or not interval:
        raise DatasetError(f"Unknown trigger '{trigger}': use availableNow or processingTime=<d>.")
    return writer.trigger(processingTime=interval)

