from kedro.pipeline import Pipeline, node

from financial_mlops.pipelines.alerts.nodes import digest_flagged_trades


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            node(
                digest_flagged_trades,
                inputs=["anomaly_scores", "anomaly_labels", "flagged_trades_digest_watermark",
                        "params:alerts"],
                # The digest is sent before the watermark moves past its window.
                outputs=["flagged_trades_alerts", "flagged_trades_digest_watermark_next"],
                name="digest_flagged_trades",
            ),
        ],
        # The Databricks job that runs these nodes (kedro-viz's tag filter).
        tags=["flagged_trades_digest"],
    )
