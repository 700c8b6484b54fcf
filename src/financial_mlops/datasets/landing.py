"""The landing zone: each ingested batch becomes one new JSON-lines file; bronze reads the folder
as a stream, so a file is loaded exactly once (Spark's file source locally, Auto Loader on
Databricks, both remembering seen files in the bronze checkpoint)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, StringType

from financial_mlops.sources.files import LandingChunk, records_of_file
from financial_mlops.spark import get_spark


class LandingZoneDataset(AbstractDataset[list[str], DataFrame]):
    """Save: a list of raw JSON text lines, written atomically as one new file in ``path``, or
    an iterable of ``LandingChunk``s, each written atomically under its own name.
    Load: a streaming DataFrame of every line of every file, as ``value`` and ``_source_file``.

    ``load_args.format``: ``text`` (local, open-source Spark) or ``cloudFiles`` (Auto Loader).
    """

    def __init__(
        self,
        *,
        path: str,
        load_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._path = path
        self._load_args = {"format": "text", **(load_args or {})}
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"path": self._path, "load_args": self._load_args}

    def _save(self, lines: list[str] | Iterable[LandingChunk]) -> None:
        """A list of lines lands as one new file; chunks (the ``files`` source) land one by one
        under their own names, so a re-fetched chunk replaces its earlier copy."""
        if isinstance(lines, list):
            if lines:
                stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
                _write_atomically(Path(self._path), f"trades-{stamp}-{uuid.uuid4().hex[:8]}.json",
                                  lines)
            return
        for chunk in lines:
            _write_atomically(Path(self._path), chunk.name, chunk.lines)

    def _load(self) -> DataFrame:
        return read_landing(get_spark(), self._path, self._load_args)


def _write_atomically(folder: Path, name: str, lines: Iterable[str]) -> None:
    """One line per record (line breaks inside a record become spaces), written under a hidden
    name and renamed: Spark's file source and Auto Loader skip names starting with '.', so a
    half-written file is never read, and a crash leaves nothing readable behind."""
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f".{name}.partial"
    with partial.open("w", encoding="utf-8", newline="\n") as handle:
        for line in lines:
            handle.write(line.replace("\n", " ").replace("\r", " "))
            handle.write("\n")
    os.replace(partial, folder / name)


def read_landing(spark: SparkSession, path: str, load_args: dict[str, Any]) -> DataFrame:
    """A stream of every line (``value``) of every file in ``path``, with ``_source_file``.
    Shared with the declarative pipeline, which reads the landing zone the same way."""
    options = dict(load_args)
    stream = _file_stream(spark, path, options.pop("format", "text"), "text", options)
    return stream.select("value", F.col("_metadata.file_path").alias("_source_file"))


# binaryFile's fixed schema: Auto Loader knows it, Spark's streaming file source must be told.
_BINARY_FILE = "path STRING, modificationTime TIMESTAMP, length BIGINT, content BINARY"


def _file_stream(spark: SparkSession, path: str, source: str, file_format: str,
                 options: dict[str, str]) -> DataFrame:
    """A stream of the files in ``path`` read as ``file_format`` by ``source``: Spark's file
    source of that format, or ``cloudFiles`` (Auto Loader) with ``cloudFiles.format`` set to it;
    the other options are the same for both."""
    reader = spark.readStream
    if source == "cloudFiles":
        reader = reader.format("cloudFiles").option("cloudFiles.format", file_format)
    else:
        Path(path).mkdir(parents=True, exist_ok=True)
        reader = reader.format(file_format)
        if file_format == "binaryFile":
            reader = reader.schema(_BINARY_FILE)
    return reader.options(**options).load(path)


# Chosen by suffix, locally and there: Hadoop's codecs for text, records_of_file for bytes.
_COMPRESSED = ("", ".gz", ".bz2", ".zst")


def _suffixes(*kinds: str) -> str:
    return "*.{" + ",".join(f"{kind}{c}" for kind in kinds for c in _COMPRESSED) + "}"


LINE_FILES = _suffixes("jsonl", "ndjson")
DOCUMENT_FILES = _suffixes("json")
TABLE_FILES = _suffixes("csv", "parquet", "pq")


def read_landing_exports(spark: SparkSession, path: str, source: str = "text") -> DataFrame:
    """``read_landing`` for a landing folder that also receives exports dropped there directly
    (the declarative pipeline's bronze): a stream of one record (``value``) per row, with
    ``_source_file``, from three streams of the folder told apart by ``pathGlobFilter``:

    - JSON lines (``.jsonl``/``.ndjson``), read line by line;
    - ``.json`` files (a JSON array, one object, or JSON lines): each file read whole
      (``wholetext``) and split in SQL by ``json_records``;
    - CSV and Parquet (``.csv``, ``.parquet``/``.pq``): each file read whole as bytes
      (``binaryFile``) and split into records by the ``files`` source's own readers
      (``records_of_file``): CSV columns matched by header name, in any order; Parquet of any
      column types, timestamps as UTC text.

    Each may be gzip/bz2/zstd-compressed. ``source``: ``text`` (Spark's file sources) or
    ``cloudFiles`` (Auto Loader, with the same options)."""
    lines = read_landing(spark, path, {"format": source, "pathGlobFilter": LINE_FILES})
    documents = read_landing(spark, path, {"format": source, "pathGlobFilter": DOCUMENT_FILES,
                                           "wholetext": "true"})
    records = documents.select(F.explode(json_records(F.col("value"))).alias("value"),
                               "_source_file")
    tables = _file_stream(spark, path, source, "binaryFile", {"pathGlobFilter": TABLE_FILES})
    split = F.udf(records_of_file, ArrayType(StringType()), useArrow=False)  # a file at a time
    rows = tables.select(F.explode(split("path", "content")).alias("value"),
                         F.col("_metadata.file_path").alias("_source_file"))
    return lines.unionByName(records).unionByName(rows)


def json_records(text: Column) -> Column:
    """The records of one JSON file's text, each as its JSON text: the elements of an array,
    the one (maybe multi-line) object, or else the non-blank lines (JSON lines, and the lines
    of a broken document, which bronze keeps raw and silver quarantines)."""
    text = F.regexp_replace(text, "^\ufeff", "")
    lines = F.filter(F.split(text, "\r\n|\r|\n"), lambda line: F.trim(line) != "")
    elements = F.from_json(text, "array<string>")
    whole_object = (text.rlike(r"^\s*\{")
                    & F.from_json(F.element_at(lines, 1), "map<string,string>").isNull()
                    & F.from_json(text, "map<string,string>").isNotNull())
    return (F.when(text.rlike(r"^\s*\[") & elements.isNotNull(), elements)
            .when(whole_object, F.array(F.trim(text)))
            .otherwise(lines))
