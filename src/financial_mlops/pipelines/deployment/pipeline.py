from kedro.pipeline import Pipeline, node

from financial_mlops.pipelines.deployment.nodes import (
    apply_promotion,
    decide_promotion,
    recent_labelled_slice,
)
from financial_mlops.promotion.records import ensure_succeeded


def create_pipeline(after: str | None = None, **kwargs) -> Pipeline:
    """``after``: a dataset the decision waits for (``retraining`` passes the tournament's
    ``tournament_winner``, so the newest version is the one the tournament just registered)."""
    return Pipeline(
        [
            node(
                recent_labelled_slice,
                inputs=["gold_trade_features", "anomaly_labels", "params:deployment"],
                outputs="deployment_scoring_slice",
                name="take_recent_labelled_slice",
            ),
            node(
                decide_promotion,
                inputs=["deployment_scoring_slice", "params:deployment",
                        *([after] if after else [])],
                outputs="promotion_decision",
                name="decide_promotion",
            ),
            node(
                apply_promotion,
                inputs=["promotion_decision", "deployment_scoring_slice", "params:validation"],
                outputs="champion_change",
                name="apply_promotion",
            ),
            # Separate from apply_promotion so that the change record is saved before the run fails.
            node(ensure_succeeded, inputs="champion_change", outputs=None,
                 name="fail_on_deployment_error"),
        ],
        # The Databricks job that runs these nodes (kedro-viz's tag filter).
        tags=["financial_retraining_workflow"],
    )
