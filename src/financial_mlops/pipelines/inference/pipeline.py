from kedro.pipeline import Pipeline, node

from financial_mlops.pipelines.inference.nodes import score_gold_changes


def create_pipeline(**kwargs) -> Pipeline:
    """The change feed of gold is its own catalog entry (Kedro forbids a transcoded and a plain
    name of one dataset in one pipeline). ``deployed_champion@resolver`` finds the champion
    per micro-batch; in the whole flow it follows the deployment that sets it."""
    return Pipeline(
        [
            node(
                score_gold_changes,
                inputs=["gold_trade_features_changes", "deployed_champion@resolver",
                        "params:inference"],
                outputs="anomaly_scores",
                name="score_new_gold_trades",
            ),
        ],
        # The Databricks job that runs these nodes (kedro-viz's tag filter).
        tags=["financial_streaming_inference"],
    )
