from kedro.pipeline import Pipeline, node

from financial_mlops.alerts.events import drift_alert_events, retraining_events
from financial_mlops.pipelines.drift.nodes import (
    check_drift,
    decide_retraining,
    report_drift,
    select_window,
)


def create_pipeline(**kwargs) -> Pipeline:
    """``drift_champion``: the champion serving now (the whole flow maps it to the
    ``deployed_champion`` its deployment has just set)."""
    return Pipeline(
        [
            node(
                select_window,
                # Arrivals: silver's `_ingested_at` per trade (drift.window.arrival_column).
                inputs=["gold_trade_features@delta", "silver_trades", "anomaly_labels",
                        "drift_watermark", "params:drift"],
                outputs=["drift_window", "drift_window_coverage"],
                name="select_drift_window",
            ),
            node(
                check_drift,
                inputs=["drift_window", "drift_window_coverage", "drift_champion", "params:drift"],
                outputs="drift_check",
                name="check_drift",
            ),
            node(
                report_drift,
                inputs=["drift_check", "params:drift"],
                outputs=["drift_metrics", "drift_report_png", "drift_summary_md",
                         "drift_mlflow_metrics", "drift_outcome"],
                name="report_drift",
            ),
            node(
                decide_retraining,
                inputs=["drift_outcome", "retraining_triggers", "retraining_job_status",
                        "params:drift"],
                # In this order: the decision is recorded, then the watermark moves past the
                # window, then the job is asked to start.
                outputs=["retraining_triggers_new", "drift_watermark_next", "retraining_job"],
                name="decide_retraining",
            ),
            node(drift_alert_events, inputs=["drift_check", "params:alerts"],
                 outputs="drift_alerts", name="alert_on_drift"),
            # Once the decision is recorded (read back from retraining_triggers).
            node(retraining_events,
                 inputs=["drift_check", "retraining_triggers_new", "params:alerts"],
                 outputs="retraining_alerts", name="alert_on_retraining_decision"),
        ],
        # The Databricks job that runs these nodes (kedro-viz's tag filter).
        tags=["drift_monitoring_job"],
    )
