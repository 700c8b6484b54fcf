"""Ingestion nodes: fetch one batch from the chosen source, then parse landing lines to bronze."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from financial_mlops.errors import UserError
from financial_mlops.sources import files, http_api
from financial_mlops.sources.simulator import simulate_batch

TRADE_FIELDS = ("trade_id", "symbol", "price", "volume", "timestamp", "exchange")
LABEL_COLUMNS = ("trade_id", "is_anomaly", "anomaly_type")
SOURCES = ("simulator", "http", "files")

# Every field is read as text first: Spark keeps a number's literal text in a string field, so a
# value that later fails its cast is still in the raw record, never silently null.
_TEXT_RECORD = StructType(
    [StructField(name, StringType()) for name in TRADE_FIELDS]
    + [StructField("_corrupt_record", StringType())]
)


def fetch_trades(
    ingestion: dict, cursor: dict, api_credentials: dict
) -> tuple[list[str] | Iterator[files.LandingChunk], pd.DataFrame, dict]:
    """Fetch the next batch from ``ingestion.source``.

    Returns the batch for the landing zone (JSON text lines; from ``files``, a lazy stream of
    chunks, so a large drop is never held in memory), the ground-truth labels (only the
    simulator knows them) and the source cursor to persist once the batch has landed.
    """
    source = ingestion.get("source")
    labels = pd.DataFrame({c: pd.Series(dtype=t) for c, t in
                           zip(LABEL_COLUMNS, ("str", "int32", "str"), strict=True)})
    if source == "simulator":
        sim = ingestion["simulator"]
        trades, labels, state = simulate_batch(
            int(sim["trades_per_batch"]), seed=int(sim["seed"]), state=cursor.get("simulator"),
            anomaly_rate=float(sim["anomaly_rate"]), regime=sim.get("regime"), start=sim["start"],
        )
        lines = trades.to_json(orient="records", lines=True).splitlines()
        labels = labels.astype({"is_anomaly": "int32"})
    elif source == "http":
        lines, state = http_api.fetch_trades(
            ingestion["http"], cursor.get("http"), (api_credentials or {}).get("api_key"))
    elif source == "files":
        lines, state = files.read_new_files(ingestion["files"], cursor.get("files"))
    else:
        raise UserError(f"ingestion.source '{source}' is not one of {', '.join(SOURCES)}")
    return lines, labels, {**cursor, source: state}


def parse_landing_lines(lines: DataFrame) -> DataFrame:
    """Landing text lines -> bronze rows: the contract fields, typed where they parse, plus
    ``_raw_record`` (the line as it came) for any line that is not a fully parsed trade record,
    ``_source_file`` and ``_ingested_at``. Nothing is dropped: one line, one bronze row."""
    record = F.from_json("value", _TEXT_RECORD, {"mode": "PERMISSIVE"})
    parsed = lines.withColumn("_r", record)
    price = F.col("_r.price").try_cast("double")
    volume = F.col("_r.volume").try_cast("double")
    unparsed = (
        F.col("_r").isNull()
        | F.col("_r._corrupt_record").isNotNull()
        | (F.col("_r.price").isNotNull() & price.isNull())
        | (F.col("_r.volume").isNotNull() & volume.isNull())
    )
    return parsed.select(
        F.col("_r.trade_id").alias("trade_id"),
        F.col("_r.symbol").alias("symbol"),
        price.alias("price"),
        volume.alias("volume"),
        F.col("_r.timestamp").alias("timestamp"),
        F.col("_r.exchange").alias("exchange"),
        F.when(unparsed, F.col("value")).alias("_raw_record"),
        "_source_file",
        F.current_timestamp().alias("_ingested_at"),
    )

