from kedro.pipeline import Pipeline, node

from financial_mlops.pipelines.rebuild_gold.nodes import rebuild_gold


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline([
        node(rebuild_gold, inputs=["silver_trades_existing", "params:features"],
             outputs="gold_trade_features_rebuilt", name="rebuild_gold_from_silver"),
    ])
