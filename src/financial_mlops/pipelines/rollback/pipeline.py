from kedro.pipeline import Pipeline, node

from financial_mlops.alerts.events import rollback_events
from financial_mlops.pipelines.rollback.nodes import roll_back_champion
from financial_mlops.promotion.change import change_record
from financial_mlops.promotion.evaluation import latest_gold_rows
from financial_mlops.promotion.records import ensure_succeeded


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            node(latest_gold_rows, inputs=["gold_trade_features@delta", "params:validation"],
                 outputs="validation_rows", name="take_latest_gold_rows"),
            # Saving the move to deployed_champion moves the aliases (datasets.registry).
            node(roll_back_champion,
                 inputs=["champion", "validation_rows", "params:rollback",
                         "params:validation"],
                 outputs="deployed_champion@value", name="roll_back_champion"),
            node(change_record, inputs="deployed_champion@value", outputs="rollback_record",
                 name="record_rollback"),
            # Before fail_on_rollback_error (ready nodes run by name).
            node(rollback_events, inputs=["rollback_record", "params:alerts"],
                 outputs="rollback_alerts", name="alert_on_rollback"),
            node(ensure_succeeded, inputs="rollback_record", outputs=None,
                 name="fail_on_rollback_error"),
        ],
        # The Databricks job that runs these nodes (kedro-viz's tag filter).
        tags=["financial_model_rollback"],
    )
