from kedro.pipeline import Pipeline, node

from financial_mlops.pipelines.inference.nodes import score_gold_changes


def create_pipeline(after: str | None = None, **kwargs) -> Pipeline:
    """``after``: a dataset scoring waits for. The change feed is its own catalog entry (Kedro
    forbids a transcoded and a plain name of one dataset in one pipeline), so nothing ties it to
    the features' ``gold_trade_features``: the whole flow passes the retraining's last record,
    so that a first run scores with the champion it has just promoted."""
    return Pipeline(
        [
            node(
                score_gold_changes,
                inputs=["gold_trade_features_changes", "params:inference",
                        *([after] if after else [])],
                outputs="anomaly_scores",
                name="score_new_gold_trades",
            ),
        ],
        # The Databricks job that runs these nodes (kedro-viz's tag filter).
        tags=["financial_streaming_inference"],
    )
