"""Validation node: the champion's post-deploy checks, on demand or after a deployment."""

from __future__ import annotations

import pandas as pd

from financial_mlops.datasets.registry import Champion
from financial_mlops.errors import UserError
from financial_mlops.promotion.change import ROLLED_BACK
from financial_mlops.promotion.validation import validate_champion


def validate_current_champion(champion: Champion | None, rows: pd.DataFrame,
                              validation: dict) -> dict:
    """Validate ``champion`` against the last change recorded in its history; the report
    (``error`` set when a check failed) becomes an MLflow run when saved."""
    name = validation["registered_model_name"]
    if champion is None or champion.version is None:
        raise UserError(f"{name} has no champion to validate: run the deployment pipeline first")
    last_change = (champion.history or [{}])[-1]
    report = validate_champion(name, last_change.get("champion"), rows,
                               validation["max_latency_seconds"],
                               check_rollback_path=last_change.get("action") != ROLLED_BACK)
    report.update(after_change=(champion.change or {}).get("status"), error=(
        None if report["passed"] else
        f"validation of {name}@champion failed ({'; '.join(report['reasons'])}): "
        "roll back with `kedro run --pipelines rollback`"))
    return {**report, "_run": {"name": f"champion-validation-{name}", "tags": {"model": name},
                               "outcome": "passed" if report["passed"] else "failed"}}
