from kedro.pipeline import Pipeline, node

from financial_mlops.alerts.events import validation_events
from financial_mlops.pipelines.validation.nodes import validate_current_champion
from financial_mlops.promotion.evaluation import latest_gold_rows
from financial_mlops.promotion.records import ensure_succeeded


def create_pipeline(**kwargs) -> Pipeline:
    """Checks ``deployed_champion``: the champion a deployment in the same run has just set (in
    ``retraining``), else the one serving now."""
    return Pipeline(
        [
            node(latest_gold_rows, inputs=["gold_trade_features@delta", "params:validation"],
                 outputs="validation_rows", name="take_latest_gold_rows"),
            node(
                validate_current_champion,
                inputs=["deployed_champion@value", "validation_rows", "params:validation"],
                outputs="validation_report",
                name="validate_current_champion",
            ),
            # Before fail_on_invalid_champion (ready nodes run by name).
            node(validation_events, inputs=["validation_report", "params:alerts"],
                 outputs="validation_alerts", name="alert_on_validation"),
            node(ensure_succeeded, inputs="validation_report", outputs=None,
                 name="fail_on_invalid_champion"),
        ],
        # The Databricks job that runs these nodes (kedro-viz's tag filter).
        tags=["financial_retraining_workflow", "financial_model_rollback"],
    )
