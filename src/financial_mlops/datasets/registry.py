"""The model registry as Kedro datasets, so the stages that read or move the champion do it
through the catalog: Kedro orders them by data and kedro-viz draws the registry between stages.

- ``ChampionDataset``: load = the ``@champion`` version with its model and reference profile
  (read lazily, by version: both always come from the same version), or with ``load_args:
  {as: resolver}`` a ``ChampionResolver`` that finds the alias again per micro-batch (hot swap).
  Save = a champion move (``promotion.change.carry_out``): applied under the promotion lock,
  validated, reverted if validation fails, recorded in MLflow. A load after a save returns the
  champion after the move with the move's record as ``change``.
- ``ChallengerDataset``: load = the newest version still awaiting a decision, with what its
  training run logged (the evidence the promotion rules check, its labels mode), found once.
- ``RecordDataset``: a JSON record (versioned file) that is also an MLflow record run: its
  checks as tags and metrics, its outcome, the JSON itself.

Two catalog names for one registered model keep the graph acyclic: ``champion`` (before a
stage moves it) and ``deployed_champion`` (after: read by validation, inference and drift).
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from functools import cached_property
from pathlib import Path
from typing import Any

import mlflow
from kedro.io import AbstractDataset, DatasetError, Version
from kedro_datasets.json import JSONDataset

from financial_mlops import registry
from financial_mlops.errors import UserError
from financial_mlops.promotion.aliases import AliasState, champion_history, read_aliases
from financial_mlops.promotion.challenger import newest_challenger, run_items
from financial_mlops.promotion.change import carry_out
from financial_mlops.promotion.records import start_record_run, write_record

_POLL_SECONDS = 5.0

log = logging.getLogger(__name__)


class Champion:
    """The version behind ``name@alias`` when it was loaded (``version`` None: there is none),
    the aliases, champion history and the model's versions then, and ``change``: the move this
    dataset just saved."""

    def __init__(self, name: str, version: str | None, run_id: str | None, aliases: AliasState,
                 history: list[dict], *, versions: list[str] | None = None,
                 change: dict | None = None,
                 profile_artifact: str = "reference_profile.json") -> None:
        self.name, self.version, self.run_id = name, version, run_id
        self.aliases, self.history, self.change = aliases, history, change
        self.versions = versions or []
        self._profile_artifact = profile_artifact

    @property
    def uri(self) -> str:
        return registry.model_uri(self.name, self.version)

    @cached_property
    def model(self) -> mlflow.pyfunc.PyFuncModel:
        """predict(features) -> score, is_anomaly; loaded once per process and version."""
        return registry.load_version(self.name, self.version)

    @cached_property
    def profile(self) -> dict:
        """``profile.build_reference_profile`` of its training rows and scores."""
        with tempfile.TemporaryDirectory() as folder:
            path = mlflow.artifacts.download_artifacts(
                run_id=self.run_id, artifact_path=self._profile_artifact, dst_path=folder)
            return json.loads(Path(path).read_text())

    @cached_property
    def test_pr_auc(self) -> float | None:
        return registry.client().get_run(self.run_id).data.metrics.get("test_pr_auc")


class ChampionResolver:
    """Finds the version behind ``name@alias`` each time it is asked: a stream scores every
    micro-batch with the champion of that moment (a model resolved once at start would keep
    the old one after a promotion or rollback)."""

    def __init__(self, name: str, alias: str) -> None:
        self.name, self.alias = name, alias
        # Taken on the driver: on serverless a micro-batch runs in another Python process, which
        # has none of the MLflow settings kedro-mlflow made here.
        self.uris = mlflow.get_tracking_uri(), mlflow.get_registry_uri()

    def _use_driver_uris(self) -> None:
        if (mlflow.get_tracking_uri(), mlflow.get_registry_uri()) != self.uris:
            mlflow.set_tracking_uri(self.uris[0])
            mlflow.set_registry_uri(self.uris[1])

    def version(self) -> str | None:
        self._use_driver_uris()
        found = registry.alias_version(self.name, self.alias)
        return None if found is None else str(found.version)

    def wait_for_version(self, seconds: float = 0.0) -> str:
        """The version behind the alias now, polling up to ``seconds`` while there is none."""
        deadline = time.monotonic() + seconds
        while (found := self.version()) is None:
            left = deadline - time.monotonic()
            if left <= 0:
                waited = f" after waiting {seconds:g} s" if seconds else ""
                raise UserError(
                    f"no version of model '{self.name}' has the alias @{self.alias}{waited}: "
                    "train and promote one first (kedro run --pipelines retraining), or set "
                    "inference.wait_for_champion_seconds to wait for one")
            log.info("No @%s for %s yet, waiting (%.0f s left)", self.alias, self.name, left)
            time.sleep(min(_POLL_SECONDS, left))
        return found

    def model(self, version: str) -> mlflow.pyfunc.PyFuncModel:
        """Versions are immutable: each is loaded once per process and registry."""
        self._use_driver_uris()
        return registry.load_version(self.name, version)


class ChampionDataset(AbstractDataset[dict, "Champion | ChampionResolver | None"]):
    """``registered_model_name@alias`` as a dataset (see the module docstring)."""

    _LOAD_AS = ("value", "resolver")

    def __init__(self, *, registered_model_name: str, alias: str = registry.CHAMPION,
                 profile_artifact: str = "reference_profile.json",
                 load_args: dict[str, Any] | None = None,
                 metadata: dict[str, Any] | None = None) -> None:
        self._name = registered_model_name
        self._alias = alias
        self._profile_artifact = profile_artifact
        self._load_as = (load_args or {}).get("as", "value")
        if self._load_as not in self._LOAD_AS:
            raise DatasetError(f"ChampionDataset load_args.as '{self._load_as}' is not one of "
                               f"{', '.join(self._LOAD_AS)}")
        self.metadata = metadata
        self._change: dict | None = None

    def _describe(self) -> dict[str, Any]:
        return {"registered_model_name": self._name, "alias": self._alias,
                "load_as": self._load_as}

    def load(self) -> Champion | ChampionResolver | None:
        if self._load_as == "resolver":
            return ChampionResolver(self._name, self._alias)
        client = registry.client()
        found = registry.alias_version(self._name, self._alias, client)
        if found is None and self._change is None:
            return None
        return Champion(
            self._name, None if found is None else str(found.version),
            None if found is None else found.run_id, read_aliases(client, self._name),
            champion_history(client, self._name) if found is not None else [],
            versions=[str(v.version) for v in registry.model_versions(self._name, client)],
            change=self._change, profile_artifact=self._profile_artifact)

    def save(self, move: dict) -> None:
        if move["model"] != self._name:
            raise DatasetError(f"a move of {move['model']} cannot be saved to the champion of "
                               f"{self._name}: the parameters and the catalog name two models")
        # What a user can get wrong (a rollback target...) the node has checked: a move that
        # fails here fails in the registry, and its record says why.
        self._change = carry_out(registry.client(), move)


class Challenger:
    """The newest version awaiting a decision and what its training run logged."""

    def __init__(self, name: str, version: str, items: dict[str, Any]) -> None:
        self.name, self.version, self.items = name, version, items

    @property
    def uri(self) -> str:
        return registry.model_uri(self.name, self.version)


class ChallengerDataset(AbstractDataset[None, "Challenger | None"]):
    """The version a deployment decides on (``promotion.challenger.newest_challenger``), or
    None; the tournament registers it, so in ``retraining`` the decision follows the tournament
    by data (``tournament_winner@registry``).

    Found once per run (per catalog): every node that loads it (the rows to judge on, the
    decision) gets the same version, even if a tournament registers a newer one meanwhile."""

    def __init__(self, *, registered_model_name: str,
                 metadata: dict[str, Any] | None = None) -> None:
        self._name = registered_model_name
        self.metadata = metadata
        self._found: tuple[Challenger | None] | None = None

    def _describe(self) -> dict[str, Any]:
        return {"registered_model_name": self._name}

    def load(self) -> Challenger | None:
        if self._found is None:
            self._found = (self._newest(),)
        return self._found[0]

    def _newest(self) -> Challenger | None:
        client = registry.client()
        champion = read_aliases(client, self._name).champion
        latest = newest_challenger(client, self._name, champion)
        if latest is None:
            return None
        return Challenger(self._name, str(latest.version), run_items(client, latest))

    def save(self, data: None) -> None:
        raise DatasetError("The challenger is read-only: the tournament registers versions.")


class RecordDataset(JSONDataset):
    """A JSON record file that is also an MLflow record run, nested under the pipeline's run.

    A record with a ``_run`` entry (``name``, ``tags``, ``outcome``, or ``id`` to add to an
    existing run) is logged (``promotion.records.write_record``): its ``checks``, the outcome
    tag and the record as ``artifact``; the run id is kept in the record as ``run_id_key``.
    """

    def __init__(  # noqa: PLR0913 - JSONDataset's arguments, plus the record's two
        self, *, filepath: str, artifact: str, run_id_key: str = "run_id",
        save_args: dict[str, Any] | None = None, version: Version | None = None,
        credentials: dict[str, Any] | None = None, fs_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(filepath=filepath, save_args=save_args, version=version,
                         credentials=credentials, fs_args=fs_args, metadata=metadata)
        self._artifact = artifact
        self._run_id_key = run_id_key

    def save(self, data: dict) -> None:
        record = dict(data)
        run = record.pop("_run", None)
        if run is not None:
            run_id = run.get("id") or start_record_run(run["name"], run.get("tags", {}))
            record[self._run_id_key] = run_id
            write_record(record, self._artifact, run_id=run_id, checks=record.get("checks"),
                         outcome=run.get("outcome"))
        JSONDataset.save.__wrapped__(self, record)  # type: ignore[attr-defined]
