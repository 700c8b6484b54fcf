"""Rollback node: champion back to the previous champion or to ``rollback.to_version``."""

from __future__ import annotations

import logging

import pandas as pd

from financial_mlops import registry
from financial_mlops.promotion.aliases import AliasState, read_aliases, rollback_target
from financial_mlops.promotion.change import ROLLED_BACK, change_champion
from financial_mlops.promotion.records import log_checks, start_record_run

log = logging.getLogger(__name__)


def roll_back_champion(rows: pd.DataFrame, rollback: dict, validation: dict) -> dict:
    """Move ``champion`` to the target (the demoted champion becomes ``previous_champion``, so a
    second rollback undoes the first), validate it on fresh gold ``rows`` like a promotion, and
    record it as an MLflow run. No version is ever deleted."""
    name = rollback["registered_model_name"]
    client = registry.client()
    before = read_aliases(client, name)
    target = rollback_target(client, name, before, rollback.get("to_version"), list(rows.columns))
    run_id = start_record_run(f"rollback-{name}-v{target}", {
        "action": "rollback", "model": name, "from_version": str(before.champion),
        "to_version": target})
    change = change_champion(
        client, name, before=before, target=AliasState(target, before.champion),
        action=ROLLED_BACK, run_id=run_id, rows=rows,
        validation=validation)
    log_checks(client, run_id, (change["validation"] or {}).get("checks", []))
    client.set_tag(run_id, "outcome", change["status"])
    client.log_dict(run_id, change, "rollback_record.json")
    log.info("%s: %s", name, change["error"] or f"champion rolled back to v{target}")
    return change
