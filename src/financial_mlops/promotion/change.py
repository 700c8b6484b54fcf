"""One champion change (a promotion, a rollback): move, validate, and undo it if it fails."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import pandas as pd
from mlflow.tracking import MlflowClient

from financial_mlops.lineage import git_sha
from financial_mlops.promotion.aliases import (
    AliasState,
    PromotionConflict,
    move_champion,
    promotion_lock,
    read_aliases,
)
from financial_mlops.promotion.records import utc_now
from financial_mlops.promotion.validation import validate_champion

ROLLED_BACK = "rolled_back"


def _history_entry(action: str, state: AliasState, run_id: str, at: str) -> dict:
    return {"at": at, "action": action, "champion": state.champion,
            "previous": state.previous_champion, "run": run_id}


def change_champion(client: MlflowClient, name: str, *, before: AliasState, target: AliasState,
                    action: str, run_id: str, rows: pd.DataFrame, validation: Mapping[str, Any]
                    ) -> dict:
    """Under the promotion lock: move the aliases from ``before`` to ``target``, tag the new
    champion, validate it on ``rows`` (``validation`` parameters), and restore ``before`` if
    validation fails.

    Returns the change record; its ``status`` is ``action`` when the change holds, ``reverted``
    after a failed validation and ``conflict`` when another deployment moved first (then nothing
    changed); ``error`` is the one-line reason the run must fail, or None.
    """
    at = utc_now()
    record = {"model": name, "action": action, "run_id": run_id, "at": at,
              "before": before.as_dict(), "target": target.as_dict(), "validation": None}
    try:
        expires = timedelta(minutes=float(validation["lock_expires_minutes"]))
        with promotion_lock(client, name, holder=run_id, since=at, expires_after=expires):
            move_champion(client, name, expected=before, target=target,
                          entry=_history_entry(action, target, run_id, at))
            for key, value in (("promoted_at", at), ("promotion_run_id", run_id),
                               ("promoted_git_sha", git_sha())):
                client.set_model_version_tag(name, target.champion, key, value)
            record["validation"] = validate_champion(
                client, name, target.champion, rows, validation["max_latency_seconds"],
                check_rollback_path=action != ROLLED_BACK)
            if not record["validation"]["passed"]:
                move_champion(client, name, expected=target, target=before,
                              entry=_history_entry("revert", before, run_id, utc_now()))
    except PromotionConflict as conflict:
        return {**record, "status": "conflict", "error": str(conflict),
                "after": read_aliases(client, name).as_dict()}
    after = read_aliases(client, name).as_dict()
    if record["validation"]["passed"]:
        return {**record, "status": action, "error": None, "after": after}
    return {**record, "status": "reverted", "after": after, "error": (
        f"post-deploy validation of {name} v{target.champion} failed "
        f"({'; '.join(record['validation']['reasons'])}): champion restored to "
        f"{'v' + before.champion if before.champion else 'none'}")}
