from kedro.pipeline import Pipeline, node

from financial_mlops.alerts.events import deployment_events
from financial_mlops.pipelines.deployment.nodes import (
    apply_promotion,
    decide_promotion,
    scoring_slice,
)
from financial_mlops.promotion.change import change_record
from financial_mlops.promotion.records import ensure_succeeded


def create_pipeline(**kwargs) -> Pipeline:
    """``champion`` (before) and ``tournament_winner@registry`` (the challenger: in
    ``retraining`` the version the tournament has just registered) in; the move saved to
    ``deployed_champion`` (after) out, which validation, inference and drift read."""
    return Pipeline(
        [
            node(
                # Rows of the kind the challenger learnt from: labelled gold, or held-out
                # silver trades with injected anomalies (its run's labels_mode).
                scoring_slice,
                inputs=["gold_trade_features@delta", "anomaly_labels", "silver_trades_existing",
                        "tournament_winner@registry", "params:deployment", "params:features"],
                outputs="deployment_scoring_slice",
                name="take_scoring_slice",
            ),
            node(
                decide_promotion,
                inputs=["deployment_scoring_slice", "champion", "tournament_winner@registry",
                        "params:deployment"],
                outputs="promotion_decision",
                name="decide_promotion",
            ),
            node(
                apply_promotion,
                inputs=["promotion_decision", "deployment_scoring_slice", "params:validation"],
                outputs="deployed_champion@value",
                name="apply_promotion",
            ),
            node(change_record, inputs="deployed_champion@value", outputs="champion_change",
                 name="record_champion_change"),
            # Before fail_on_deployment_error (Kedro runs ready nodes by name): a reverted
            # promotion is announced before the run fails.
            node(deployment_events,
                 inputs=["promotion_decision", "champion_change", "params:alerts"],
                 outputs="deployment_alerts", name="alert_on_deployment"),
            # Separate so that the change record is saved before the run fails.
            node(ensure_succeeded, inputs="champion_change", outputs=None,
                 name="fail_on_deployment_error"),
        ],
        # The Databricks job that runs these nodes (kedro-viz's tag filter).
        tags=["financial_retraining_workflow"],
    )
