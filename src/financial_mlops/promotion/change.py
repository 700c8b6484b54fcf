"""One champion change (a promotion, a rollback): move, validate, and undo it if it fails.

``carry_out`` applies a move a node decided on (``ChampionDataset.save``): the nodes say what
should happen as plain values, this module does it in the registry and records it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import pandas as pd
from mlflow.tracking import MlflowClient

from financial_mlops.errors import DatasetUserError
from financial_mlops.lineage import git_sha
from financial_mlops.promotion.aliases import (
    AliasState,
    PromotionConflict,
    move_champion,
    promotion_lock,
    read_aliases,
)
from financial_mlops.promotion.challenger import DECISION_TAG
from financial_mlops.promotion.records import start_record_run, utc_now, write_record
from financial_mlops.promotion.validation import validate_champion

log = logging.getLogger(__name__)

ROLLED_BACK = "rolled_back"
# What a node asks for (``move["kind"]``).
PROMOTE, REJECT, KEEP, ROLL_BACK = "promote", "reject", "keep", "roll_back"


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
                name, target.champion, rows, validation["max_latency_seconds"],
                check_rollback_path=action != ROLLED_BACK, client=client)
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


def carry_out(client: MlflowClient, move: Mapping[str, Any]) -> dict:
    """Apply ``move`` and return its change record (``status``, ``error``, ``after``...).

    ``kind``: ``keep`` (no challenger: nothing changes), ``reject`` (tag the version as
    decided), ``promote`` (``version`` becomes champion, the champion ``previous_champion``),
    ``roll_back`` (``target``, checked by the node, becomes champion). A promotion
    and its verdict are added to the decision's record run (``run_id``); a rollback opens its
    own. The record is attached to the run as ``artifact``.
    """
    name, kind = move["model"], move["kind"]
    if kind == KEEP:
        return {"model": name, "status": "no_change", "error": None, "after": move["before"]}
    if kind == REJECT:
        change = {"model": name, "status": "rejected", "error": None, "version": move["version"],
                  "run_id": move["run_id"], "after": read_aliases(client, name).as_dict()}
        return _record(client, move, change, move["version"])
    if kind == PROMOTE:
        expected = AliasState(**move["before"])
        return _record(client, move, change_champion(
            client, name, before=expected, target=AliasState(move["version"], expected.champion),
            action="promoted", run_id=move["run_id"], rows=move["rows"],
            validation=move["validation"]), move["version"])
    if kind != ROLL_BACK:
        raise ValueError(f"unknown champion move '{kind}'")
    expected, target = AliasState(**move["before"]), move["target"]
    _refuse_missing_features(client, name, target, list(move["rows"].columns))
    run_id = start_record_run(f"rollback-{name}-v{target}", {
        "action": "rollback", "model": name, "from_version": str(expected.champion),
        "to_version": target})
    change = change_champion(
        client, name, before=expected, target=AliasState(target, expected.champion),
        action=ROLLED_BACK, run_id=run_id, rows=move["rows"], validation=move["validation"])
    return _record(client, move, change, None)


def _refuse_missing_features(client: MlflowClient, name: str, version: str,
                             gold_columns: list[str]) -> None:
    """A version trained on features gold no longer has (its run's ``feature_list``) could not
    score a single trade: refuse it in one line, before anything moves."""
    run_id = client.get_model_version(name, version).run_id
    if not run_id:
        return
    trained_on = json.loads(client.get_run(run_id).data.tags.get("feature_list", "[]"))
    gone = [feature for feature in trained_on if feature not in gold_columns]
    if gone:
        raise DatasetUserError(
            f"version {version} of {name} needs feature(s) gold no longer has "
            f"({', '.join(gone[:5])}{', ...' if len(gone) > 5 else ''}): it was trained on an "
            "older feature set; retrain (kedro run --pipelines retraining) instead")


def _record(client: MlflowClient, move: Mapping[str, Any], change: dict,
            decided_version: str | None) -> dict:
    """Tag a decided version with the outcome (not after a lost race: that version is decided
    again later) and add the change to its record run."""
    if decided_version is not None and change["status"] != "conflict":
        client.set_model_version_tag(change["model"], decided_version, DECISION_TAG,
                                     change["status"])
    write_record(change, move["artifact"], run_id=change["run_id"],
                 checks=(change.get("validation") or {}).get("checks") if decided_version is None
                 else None, outcome=change["status"])
    return change


def change_record(champion: Any) -> dict:
    """The record of the move just saved to ``champion`` (a ``datasets.registry.Champion``
    loaded after the save): a deployment's or a rollback's, for its JSON file and for
    ``ensure_succeeded``."""
    change = champion.change
    log.info("%s: %s", change["model"], change["error"] or change["status"])
    return change
