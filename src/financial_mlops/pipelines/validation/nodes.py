"""Validation nodes: fresh gold rows, and the champion's post-deploy checks on demand."""

from __future__ import annotations

import pandas as pd
from pyspark.sql import DataFrame

from financial_mlops import registry
from financial_mlops.errors import UserError
from financial_mlops.promotion.aliases import champion_history, read_aliases
from financial_mlops.promotion.change import ROLLED_BACK
from financial_mlops.promotion.evaluation import newest_rows
from financial_mlops.promotion.records import log_checks, start_record_run
from financial_mlops.promotion.validation import validate_champion


def latest_gold_rows(gold: DataFrame, validation: dict) -> pd.DataFrame:
    """The ``validation.rows`` most recent gold rows (labels are not needed to serve)."""
    rows = newest_rows(gold, validation["rows"])
    if rows.empty:
        raise UserError("gold_trade_features is empty: there are no fresh rows to validate the "
                        "champion on (run the ingestion and features pipelines first)")
    return rows


def validate_current_champion(rows: pd.DataFrame, validation: dict,
                              champion_change: dict | None = None) -> dict:
    """Validate ``champion`` against the last change recorded in the champion history, log the
    report as an MLflow run and return it (``error`` set when a check failed).

    ``champion_change`` (in ``retraining``) makes the validation wait for the deployment.
    """
    name = validation["registered_model_name"]
    client = registry.client()
    if read_aliases(client, name).champion is None:
        raise UserError(f"{name} has no champion to validate: run the deployment pipeline first")
    last_change = (champion_history(client, name) or [{}])[-1]
    run_id = start_record_run(f"champion-validation-{name}", {"model": name})
    report = validate_champion(client, name, last_change.get("champion"), rows,
                               validation["max_latency_seconds"],
                               check_rollback_path=last_change.get("action") != ROLLED_BACK)
    report.update(run_id=run_id, after_change=(champion_change or {}).get("status"), error=(
        None if report["passed"] else
        f"validation of {name}@champion failed ({'; '.join(report['reasons'])}): "
        "roll back with `kedro run --pipelines rollback`"))
    log_checks(client, run_id, report["checks"])
    client.set_tag(run_id, "outcome", "passed" if report["passed"] else "failed")
    client.log_dict(run_id, report, "validation_report.json")
    return report
