"""Moving ``champion`` safely: a promotion lock, an optimistic check, a history on the model.

MLflow has no atomic multi-alias update and no compare-and-set on an alias, so every move
happens under a lock: a registered model named ``<model>_promotion_lock`` that exists only while
a deployment moves aliases. Creating a registered model is atomic in every registry (a second
create fails with RESOURCE_ALREADY_EXISTS), on the local SQLite one and in Unity Catalog alike.
A lock older than the longest a change can take was left by a deployment that died and is
taken over. Under the lock the champion is read again and the move stops if it changed since
the decision began. ``previous_champion`` is set before ``champion``. Versions are never deleted
(that would drop their aliases); a move only sets or removes aliases.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from financial_mlops.errors import UserError
from financial_mlops.registry import CHAMPION, PREVIOUS_CHAMPION, alias_version

log = logging.getLogger(__name__)

HISTORY_TAG = "champion_history"
# Unity Catalog tag values hold at most 1000 characters: the newest entries that fit are kept
# on the model; every entry's full record is an artifact of the run named in it.
HISTORY_MAX_CHARS = 1000


class PromotionConflict(UserError):
    """Another deployment moved, or is moving, the champion: this one changed nothing."""


@dataclass(frozen=True)
class AliasState:
    champion: str | None
    previous_champion: str | None

    def as_dict(self) -> dict[str, str | None]:
        return asdict(self)


def read_aliases(client: MlflowClient, name: str) -> AliasState:
    versions = (alias_version(name, alias, client) for alias in (CHAMPION, PREVIOUS_CHAMPION))
    return AliasState(*(None if v is None else str(v.version) for v in versions))


def lock_name(name: str) -> str:
    return f"{name}_promotion_lock"


@contextmanager
def promotion_lock(client: MlflowClient, name: str, holder: str, since: str,
                   expires_after: timedelta) -> Iterator[None]:
    """Hold the model's promotion lock, or raise ``PromotionConflict`` naming its holder.

    A lock taken more than ``expires_after`` before ``since`` is taken over: its deployment
    died (a change holds the lock for seconds). Right before deleting it, the lock is read
    again, so a lock just taken over by another deployment stays with that one.
    """
    lock = lock_name(name)
    if not _create_lock(client, lock, name, holder, since):
        held = _lock_tags(client, lock)
        if not (held and _expired(held, since, expires_after)
                and _take_over(client, lock, held, name, holder, since)):
            holder_text = ("released meanwhile" if held is None
                           else f"run {held.get('holder')} since {held.get('since')}")
            minutes = round(expires_after.total_seconds() / 60)
            raise PromotionConflict(
                f"another deployment holds the promotion lock of {name} ({holder_text}): "
                f"nothing changed; the lock expires {minutes} min after it was taken (or "
                f"delete the registered model {lock} if no deployment is running)")
    try:
        yield
    finally:
        client.delete_registered_model(lock)


def _create_lock(client: MlflowClient, lock: str, name: str, holder: str, since: str) -> bool:
    """Create the lock model; False when it exists already (creation is atomic)."""
    try:
        client.create_registered_model(
            lock, tags={"holder": holder, "since": since},
            description=f"Held while a deployment moves the aliases of {name}.")
    except MlflowException as error:
        if error.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
        return False
    return True


def _lock_tags(client: MlflowClient, lock: str) -> dict[str, str] | None:
    try:
        return dict(client.get_registered_model(lock).tags)
    except MlflowException:
        return None


def _take_over(client: MlflowClient, lock: str, held: dict[str, str], name: str, holder: str,
               since: str) -> bool:
    """Replace the expired lock ``held`` with ours, unless another deployment replaced it first."""
    log.warning("Taking over the promotion lock of %s from run %s, held since %s: expired, its "
                "deployment died", name, held.get("holder"), held.get("since"))
    if _lock_tags(client, lock) == held:
        client.delete_registered_model(lock)
    return _create_lock(client, lock, name, holder, since)


def _expired(held: dict[str, str], now: str, expires_after: timedelta) -> bool:
    """True when the lock was taken more than ``expires_after`` before ``now``; a lock whose
    time cannot be read never expires (it is left to a person)."""
    try:
        return datetime.fromisoformat(now) - datetime.fromisoformat(held["since"]) > expires_after
    except (KeyError, TypeError, ValueError):
        return False


def move_champion(client: MlflowClient, name: str, *, expected: AliasState, target: AliasState,
                  entry: dict) -> None:
    """Set the aliases to ``target`` if the champion is still ``expected.champion``, and append
    ``entry`` to the champion history. The caller holds the promotion lock."""
    current = read_aliases(client, name)
    if current.champion != expected.champion:
        raise PromotionConflict(
            f"the champion of {name} moved from {_label(expected.champion)} to "
            f"{_label(current.champion)} since this deployment began: nothing changed")
    for alias, version in ((PREVIOUS_CHAMPION, target.previous_champion),
                           (CHAMPION, target.champion)):
        if version is not None:
            client.set_registered_model_alias(name, alias, version)
        elif alias_version(name, alias, client) is not None:
            client.delete_registered_model_alias(name, alias)
    append_history(client, name, entry)


def _label(version: str | None) -> str:
    return "none" if version is None else f"v{version}"


def champion_history(client: MlflowClient, name: str) -> list[dict]:
    """The latest champion changes recorded on the model, oldest first."""
    return json.loads(client.get_registered_model(name).tags.get(HISTORY_TAG, "[]"))


def append_history(client: MlflowClient, name: str, entry: dict) -> None:
    entries = [*champion_history(client, name), entry]
    while len(entries) > 1 and len(json.dumps(entries, separators=(",", ":"))) > HISTORY_MAX_CHARS:
        entries.pop(0)
    client.set_registered_model_tag(name, HISTORY_TAG, json.dumps(entries, separators=(",", ":")))


def rollback_target(client: MlflowClient, name: str, state: AliasState,
                    to_version: str | int | None, gold_columns: list[str] | None = None) -> str:
    """The version a rollback would make champion: ``to_version`` or the previous champion.
    With ``gold_columns``, a version trained on features gold no longer has (its run's
    ``feature_list``) is refused: it could not score a single trade."""
    target = state.previous_champion if to_version is None else str(to_version)
    if target is None:
        raise UserError(f"{name} has no previous_champion to roll back to: "
                        "name a version with rollback.to_version")
    if target == state.champion:
        raise UserError(f"version {target} of {name} is already the champion: nothing to roll back")
    try:
        version = client.get_model_version(name, target)
    except MlflowException:
        raise UserError(f"rollback target version {target} of {name} does not exist") from None
    if gold_columns is not None and version.run_id:
        trained_on = json.loads(client.get_run(version.run_id).data.tags.get("feature_list", "[]"))
        gone = [f for f in trained_on if f not in gold_columns]
        if gone:
            raise UserError(
                f"version {target} of {name} needs feature(s) gold no longer has "
                f"({', '.join(gone[:5])}{', ...' if len(gone) > 5 else ''}): it was trained on "
                "an older feature set; retrain (kedro run --pipelines retraining) instead")
    return target
