"""Bronze rows for the features tests, made by the ingestion's own parser from landing lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from financial_mlops.features.bronze import parse_landing_lines

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def features_params() -> dict:
    return load_features_params()


def load_features_params() -> dict:
    return yaml.safe_load((REPO / "conf/base/parameters_features.yml").read_text())["features"]


def silver_schema() -> str:
    """The silver table's schema, as the catalog declares it."""
    catalog = yaml.safe_load((REPO / "conf/base/catalog_features.yml").read_text())
    return catalog["_silver_trades"]["schema"]


def trade_line(trade_id, **fields) -> str:
    """A landing JSON line of a valid trade, with ``fields`` replaced (None -> null)."""
    record = {"trade_id": trade_id, "symbol": "AAPL", "price": 190.0, "volume": 100.0,
              "timestamp": "2026-01-05T14:30:00.000Z", "exchange": "XNAS", **fields}
    return json.dumps(record)


def bronze_rows(spark, lines: list[str], source: str, ingested_at: str) -> DataFrame:
    """Bronze rows of ``lines`` as if ingested from file ``source`` at ``ingested_at`` (UTC)."""
    landing = spark.createDataFrame([(line,) for line in lines], "value string")
    parsed = parse_landing_lines(landing.withColumn("_source_file", F.lit(source)))
    return parsed.withColumn("_ingested_at", F.to_timestamp(F.lit(ingested_at)))
