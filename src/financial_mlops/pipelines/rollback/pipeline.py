from kedro.pipeline import Pipeline, node

from financial_mlops.pipelines.rollback.nodes import roll_back_champion
from financial_mlops.pipelines.validation.nodes import latest_gold_rows
from financial_mlops.promotion.records import ensure_succeeded


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            node(latest_gold_rows, inputs=["gold_trade_features", "params:validation"],
                 outputs="validation_rows", name="take_latest_gold_rows"),
            node(roll_back_champion,
                 inputs=["validation_rows", "params:rollback", "params:validation"],
                 outputs="rollback_record", name="roll_back_champion"),
            node(ensure_succeeded, inputs="rollback_record", outputs=None,
                 name="fail_on_rollback_error"),
        ],
        # The Databricks job that runs these nodes (kedro-viz's tag filter).
        tags=["financial_model_rollback"],
    )
