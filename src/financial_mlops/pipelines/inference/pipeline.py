from kedro.pipeline import Pipeline, node

from financial_mlops.pipelines.inference.nodes import score_gold_changes


def create_pipeline(**kwargs) -> Pipeline:
    """Gold is read as ``gold_trade_features@changes``: the table the features pipeline writes
    as ``@delta``, so a run of both scores after the gold build. ``deployed_champion@resolver``
    finds the champion per micro-batch; in the whole flow it follows the deployment that sets
    it. The watermark is saved after the scores (Kedro saves a node's outputs in order)."""
    return Pipeline(
        [
            node(
                score_gold_changes,
                inputs=["gold_trade_features@changes", "deployed_champion@resolver",
                        "inference_watermark", "params:inference"],
                outputs=["anomaly_scores", "inference_watermark_next"],
                name="score_new_gold_trades",
            ),
        ],
        # The Databricks job that runs these nodes (kedro-viz's tag filter).
        tags=["financial_streaming_inference"],
    )
