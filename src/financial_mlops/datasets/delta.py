"""A Delta table as a Kedro dataset: batch or streaming, append, overwrite or idempotent MERGE.

kedro-datasets' Spark datasets write Delta by path with append/overwrite only, and its
``DeltaTableDataset`` is read-only; ``databricks.ManagedTableDataset`` merges but only by table
name in a metastore. Every stage here needs MERGE (silver, gold, scores are re-runnable) and
streaming with ``availableNow`` plus ``awaitTermination`` (bronze, inference), on a local path and
on a Unity Catalog table alike, so this one class does both.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
from delta.tables import DeltaTable
from kedro.io import AbstractDataset, DatasetError
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import DataStreamWriter, StreamingQuery
from pyspark.sql.types import TimestampType

from financial_mlops.errors import UserError
from financial_mlops.spark import conf_string, get_spark

_MODES = {"append", "overwrite", "merge"}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# How long a stop signal waits for the micro-batch in flight before stopping the query anyway.
_STOP_GRACE_SECONDS = 120

logger = logging.getLogger(__name__)


class ColumnsChangedError(UserError, DatasetError):
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
        return {"location": self.location, "load_args": self._load_args,
                "save_args": self._save_args}

    @staticmethod
    def _spark() -> SparkSession:
        return get_spark()

    def _exists(self) -> bool:
        spark = self._spark()
        if self._table:
            return spark.catalog.tableExists(self._table)
        return DeltaTable.isDeltaTable(spark, self._path)

    def _load(self) -> DataFrame:
        spark = self._spark()
        options = dict(self._load_args)
        streaming = options.pop("streaming", False)
        if not self._exists():
            if self._schema and not streaming:
                return spark.createDataFrame([], self._schema)
            raise DatasetError(f"Delta table {self.location} does not exist yet.")
        reader = (spark.readStream if streaming else spark.read).format("delta").options(**options)
        return reader.table(self._table) if self._table else reader.load(self._path)

    def delta_version(self) -> int | None:
        """The table's current Delta version (for lineage tags), or None if it does not exist."""
        if not self._exists():
            return None
        return self._delta_table().history(1).collect()[0]["version"]

    def _delta_table(self) -> DeltaTable:
        spark = self._spark()
        if self._table:
            return DeltaTable.forName(spark, self._table)
        return DeltaTable.forPath(spark, self._path)

    def _save(self, data: DataFrame | pd.DataFrame | MicroBatchStream) -> None:
        if isinstance(data, MicroBatchStream):
            self._save_stream(data.stream, data.prepare, data.trigger)
            return
        if isinstance(data, pd.DataFrame):
            data = self._spark().createDataFrame(data, schema=self._schema)
        if data.isStreaming:
            self._save_stream(data)
        elif self._save_args["mode"] == "merge":
            self._merge(data)
        else:
            self._write(data, self._save_args["mode"])

    def _create_if_missing(self, data: DataFrame) -> None:
        """Create the table with ``properties`` before the first write, which then appends to it
        (a writer option only sets properties named ``delta.*``)."""
        properties = self._save_args.get("properties")
        if not properties or self._exists():
            return
        builder = DeltaTable.createIfNotExists(self._spark()).addColumns(data.schema)
        builder = builder.tableName(self._table) if self._table else builder.location(self._path)
        if self._save_args.get("partition_by"):
            builder = builder.partitionedBy(*self._save_args["partition_by"])
        for key, value in table_properties(properties).items():
            builder = builder.property(key, value)
        builder.execute()

    def _write(self, data: DataFrame, mode: str) -> None:
        self._create_if_missing(data)
        writer = data.write.format("delta").mode(mode).options(**self._save_args.get("options", {}))
        if self._save_args.get("partition_by"):
            writer = writer.partitionBy(*self._save_args["partition_by"])
        if self._table:
            writer.saveAsTable(self._table)
        else:
            writer.save(self._path)

    def _merge(self, data: DataFrame) -> None:
        """MERGE on the keys: new keys are inserted, matched rows updated only if asked."""
        if not self._exists():
            self._write(data, "append")
            return
        self._check_columns(data)
        keys = self._save_args["keys"]
        condition = F.expr(" AND ".join(f"t.`{k}` <=> s.`{k}`" for k in keys))
        since = self._save_args.get("matches_since")
        if since:
            lowest = _lowest(data, since)
            if lowest is None:  # nothing to merge
                return
            condition = condition & (F.col(f"t.`{since}`") >= lowest)
        merge = self._delta_table().alias("t").merge(data.alias("s"), condition)
        if self._save_args.get("when_matched") == "update":
            merge = merge.whenMatchedUpdateAll()
        merge.whenNotMatchedInsertAll().execute()

    def _check_columns(self, data: DataFrame) -> None:
        table = self._delta_table().toDF().columns
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
        writer: DataStreamWriter = data.writeStream.option("checkpointLocation", checkpoint)
        trigger = trigger or self._save_args.get("trigger", "availableNow")
        writer = _with_trigger(writer, trigger)
        if self._save_args["mode"] == "merge" or prepare:
            prepare = prepare or (lambda batch: batch)
            query = writer.foreachBatch(lambda batch, _id: self._save(prepare(batch))).start()
        else:
            self._create_if_missing(data)
            writer = writer.format("delta").outputMode("append").options(
                **self._save_args.get("options", {}))
            query = writer.toTable(self._table) if self._table else writer.start(self._path)
        if trigger == "availableNow":
            query.awaitTermination()
        else:
            _run_until_signalled(query)


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


def _lowest(data: DataFrame, column: str) -> Column | None:
    """The smallest ``column`` of ``data`` as a literal, None when ``data`` is empty. Timestamps
    go through epoch microseconds, so no time-zone conversion can shift the bound."""
    if isinstance(data.schema[column].dataType, TimestampType):
        micros = data.agg(F.min(F.unix_micros(column))).first()[0]
        return None if micros is None else F.lit(_EPOCH + timedelta(microseconds=micros))
    value = data.agg(F.min(column)).first()[0]
    return None if value is None else F.lit(value)


def _with_trigger(writer: DataStreamWriter, trigger: str) -> DataStreamWriter:
    """``availableNow`` or ``processingTime=<interval>`` (e.g. ``processingTime=5 seconds``)."""
    if trigger == "availableNow":
        return writer.trigger(availableNow=True)
    kind, _, interval = trigger.partition("=")
    if kind != "processingTime" or not interval:
        raise DatasetError(f"Unknown trigger '{trigger}': use availableNow or processingTime=<d>.")
    return writer.trigger(processingTime=interval)

