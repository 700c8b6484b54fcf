"""Rebuild gold from all of silver, after gold's feature set changed (docs/features.md)."""

from __future__ import annotations

from typing import Any

from pyspark.sql import DataFrame

from financial_mlops.features.gold import in_time_order, parallel_trade_features


def rebuild_gold(silver: DataFrame, features: dict[str, Any]) -> DataFrame:
    """Every gold row recomputed from all of silver, to replace gold after its feature set
    changed. The watermark stays: it marks the bronze rows already in silver, and gold then
    covers all of silver again."""
    return in_time_order(parallel_trade_features(silver, features["gold"], arrival=True))
