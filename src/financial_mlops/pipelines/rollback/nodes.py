"""Rollback node: champion back to the previous champion or to ``rollback.to_version``."""

from __future__ import annotations

import pandas as pd

from financial_mlops.datasets.registry import Champion
from financial_mlops.errors import UserError
from financial_mlops.promotion.aliases import rollback_target
from financial_mlops.promotion.change import ROLL_BACK


def roll_back_champion(champion: Champion | None, rows: pd.DataFrame, rollback: dict,
                       validation: dict) -> dict:
    """The rollback move, saved to ``deployed_champion``: ``champion`` goes to the target (the
    demoted champion becomes ``previous_champion``, so a second rollback undoes the first), is
    validated on fresh gold ``rows`` like a promotion and recorded as an MLflow run (see
    ``promotion.change.carry_out``). No version is ever deleted. An impossible target is a
    one-line error before anything moves."""
    name = rollback["registered_model_name"]
    if champion is None:
        raise UserError(f"{name} has no champion to roll back: promote one with "
                        "`kedro run --pipelines deployment`")
    target = rollback_target(name, champion.aliases, rollback.get("to_version"),
                             champion.versions)
    return {"model": name, "kind": ROLL_BACK, "before": champion.aliases.as_dict(),
            "target": target, "rows": rows, "validation": validation,
            "artifact": "rollback_record.json"}
