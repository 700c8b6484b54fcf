from kedro.pipeline import Pipeline, node

from financial_mlops.features.bronze import parse_landing_lines
from financial_mlops.pipelines.ingestion.nodes import fetch_trades


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            node(
                fetch_trades,
                inputs=["params:ingestion", "ingestion_cursor", "market_api_credentials"],
                # The cursor is saved last, after the batch has landed: a crash in between
                # re-fetches the batch (silver drops identical re-deliveries) instead of losing it.
                outputs=["landing_trades", "anomaly_labels", "ingestion_cursor_next"],
                name="fetch_trades",
            ),
            node(
                parse_landing_lines,
                inputs="landing_trades",
                outputs="bronze_trades",
                name="load_landing_into_bronze",
            ),
        ],
        # The Databricks job that runs these nodes (kedro-viz's tag filter).
        tags=["financial_api_ingestion_workflow"],
    )
