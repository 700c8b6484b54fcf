"""Bronze: the trade record contract and the landing-line parser, shared by the Kedro
``ingestion`` pipeline and the declarative pipeline (both turn landing lines into bronze rows).

Every landing line becomes one bronze row: nothing is dropped at this layer, a line that does
not parse keeps its text in ``_raw_record`` and silver's ``record_parsed`` rule quarantines it.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

TRADE_FIELDS = ("trade_id", "symbol", "price", "volume", "timestamp", "exchange")

# Every field is read as text first: Spark keeps a number's literal text in a string field, so a
# value that later fails its cast is still in the raw record, never silently null.
_TEXT_RECORD = StructType(
    [StructField(name, StringType()) for name in TRADE_FIELDS]
    + [StructField("_corrupt_record", StringType())]
)


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

