from kedro.pipeline import Pipeline, node

from financial_mlops.pipelines.features.nodes import build_gold, split_silver


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            node(
                split_silver,
                # `silver_trades_existing` is the silver table as it was before this run.
                inputs=["bronze_trades", "silver_trades_existing", "features_watermark",
                        "params:features"],
                outputs=["silver_trades", "silver_trades_quarantine", "features_watermark_pending"],
                name="split_bronze_into_silver_and_quarantine",
            ),
            node(
                build_gold,
                inputs=["silver_trades", "features_watermark", "features_watermark_pending",
                        "params:features"],
                # Saved in this order: the watermark moves only once gold is written.
                outputs=["gold_trade_features@delta", "features_watermark_next"],
                name="build_gold_features",
            ),
        ],
        # The Databricks job that runs these nodes (kedro-viz's tag filter).
        tags=["financial_streaming_pipeline"],
    )
