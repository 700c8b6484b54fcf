"""Rollback node: champion back to the previous champion or to ``rollback.to_version``."""

from __future__ import annotations

import pandas as pd

from financial_mlops.promotion.change import ROLL_BACK


def roll_back_champion(rows: pd.DataFrame, rollback: dict, validation: dict) -> dict:
    """The rollback move, saved to ``deployed_champion``: ``champion`` goes to the target (the
    demoted champion becomes ``previous_champion``, so a second rollback undoes the first), is
    validated on fresh gold ``rows`` like a promotion and recorded as an MLflow run (see
    ``promotion.change.carry_out``). No version is ever deleted."""
    return {"model": rollback["registered_model_name"], "kind": ROLL_BACK,
            "to_version": rollback.get("to_version"), "rows": rows, "validation": validation,
            "artifact": "rollback_record.json"}
