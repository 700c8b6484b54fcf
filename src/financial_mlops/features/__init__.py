"""The medallion transformations as plain ``DataFrame -> DataFrame`` functions, shared by the
Kedro ``features`` pipeline and the declarative wrapper: built-in Spark functions, and for gold
one numpy function per symbol (``symbol_history``) that Spark runs over Arrow batches
(``mapInArrow``)."""

from financial_mlops.features.gold import GOLD_KEYS, trade_features
from financial_mlops.features.silver import (
    QUARANTINE_COLUMNS,
    SILVER_COLUMNS,
    accepted_rows,
    checked_trades,
    deduplicate,
    flag_broken,
    passes_all,
    rejected_rows,
    silver_rules,
    split_trades,
    typed_trades,
)

__all__ = [
    "GOLD_KEYS",
    "QUARANTINE_COLUMNS",
    "SILVER_COLUMNS",
    "accepted_rows",
    "checked_trades",
    "deduplicate",
    "flag_broken",
    "passes_all",
    "rejected_rows",
    "silver_rules",
    "split_trades",
    "trade_features",
    "typed_trades",
]
