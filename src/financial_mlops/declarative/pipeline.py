"""The medallion tables, declared: ``bronze_trades`` -> ``silver_trades`` +
``silver_trades_quarantine`` -> ``gold_trade_features``, built by the very functions the Kedro
``features`` pipeline calls. Loaded by the pipeline runtime (``spark-pipelines`` locally, a
Databricks pipeline there), never imported.

Pipeline configuration:
  ``financial_mlops.landing_path``   the landing folder: JSON lines, JSON arrays or objects,
                                     CSV, Parquet, maybe .gz/.bz2/.zst (``read_landing_exports``)
  ``financial_mlops.bronze_source``  ``text`` (a plain file stream) or ``cloudFiles`` (Auto Loader)
  ``financial_mlops.conf_source``    the project's ``conf`` folder (default: the one beside ``src``)
  ``financial_mlops.env``            the conf env whose ``parameters_features.yml`` apply (``base``)

Bronze is a streaming table (each landing file read once); silver, quarantine and gold are
materialized views over all of bronze, the declarative form of "the same result as one go".
Where the runtime has expectations (Databricks), the silver rules are declared as
``expect_all_or_drop``; where it has none (open-source Spark) the same rules are a filter.
"""

from functools import wraps
from pathlib import Path

from kedro.config import OmegaConfigLoader
from pyspark import pipelines as dp
from pyspark.sql import SparkSession

import financial_mlops
from financial_mlops.conf_resolvers import RESOLVERS
from financial_mlops.datasets.delta import table_properties
from financial_mlops.datasets.landing import read_landing_exports
from financial_mlops.features import (
    passes_all,
    silver_rules,
    split_trades,
    trade_features,
    typed_trades,
)
from financial_mlops.features.bronze import parse_landing_lines

spark = SparkSession.active()
_DEFAULT_CONF = Path(financial_mlops.__file__).resolve().parents[2] / "conf"
_conf_env = spark.conf.get("financial_mlops.env", "base")
_config = OmegaConfigLoader(
    spark.conf.get("financial_mlops.conf_source", str(_DEFAULT_CONF)),
    base_env="base", default_run_env=_conf_env, env=_conf_env, custom_resolvers=RESOLVERS,
)
FEATURES = _config["parameters"]["features"]
RULES = silver_rules(FEATURES["rules"])
_CATALOG = _config["catalog"]


def _properties(name: str) -> dict[str, str]:
    """The table properties the catalog gives the Kedro path's table of the same name (gold's
    change data feed, Parquet settings), so both paths create their tables alike."""
    return table_properties(_CATALOG[name].get("save_args", {}).get("properties", {}))


def _drop_rows_breaking_rules(define):
    """``expect_all_or_drop(RULES)`` where the runtime has it, else the same rules as a filter."""
    expect_all_or_drop = getattr(dp, "expect_all_or_drop", None)
    if expect_all_or_drop is not None:
        return expect_all_or_drop(RULES)(define)

    @wraps(define)
    def filtered():
        return define().filter(passes_all(RULES))

    return filtered


@dp.table(name="bronze_trades", comment="Every landing line, parsed where it parses.")
def bronze_trades():
    source = spark.conf.get("financial_mlops.bronze_source", "text")
    landing = spark.conf.get("financial_mlops.landing_path")
    return parse_landing_lines(read_landing_exports(spark, landing, source))


# Downstream flows read pipeline tables through pass-through views: with a transformation
# applied directly to `spark.read.table(<pipeline table>)`, open-source Spark 4.2 loses the
# dependency on re-runs and runs the flow before its upstream (SPARK-57352).
@dp.temporary_view(name="bronze_trades_feed")
def bronze_trades_feed():
    return spark.read.table("bronze_trades")


@dp.temporary_view(name="silver_candidates")
@_drop_rows_breaking_rules
def silver_candidates():
    return typed_trades(spark.read.table("bronze_trades_feed"))


@dp.materialized_view(name="silver_trades", comment="Valid trades, one row per trade_id.",
                      table_properties=_properties("silver_trades"))
def silver_trades():
    return split_trades(spark.read.table("silver_candidates"), RULES)[0]


@dp.materialized_view(
    name="silver_trades_quarantine",
    comment="Every rejected bronze row with the names of the rules it broke.",
)
def silver_trades_quarantine():
    return split_trades(typed_trades(spark.read.table("bronze_trades_feed")), RULES)[1]


@dp.temporary_view(name="silver_trades_feed")
def silver_trades_feed():
    return spark.read.table("silver_trades")


@dp.materialized_view(name="gold_trade_features", comment="Per-trade model features (f_*).",
                      table_properties=_properties("gold_trade_features@delta"))
def gold_trade_features():
    return trade_features(spark.read.table("silver_trades_feed"), FEATURES["gold"], arrival=True)
