"""The drift pipeline's external I/O as Kedro datasets, so its nodes stay pure.

- ``ChampionReferenceDataset`` loads the serving model with what it was trained on: its
  reference profile and its own test PR-AUC, from the MLflow run the version was logged from.
- ``LocalRetrainingJob`` / ``DatabricksRetrainingJob`` start the retraining (save) and tell
  whether one is running (load); the env's catalog picks one, nodes never ask where they run.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
from kedro.io import AbstractDataset, DatasetError

from financial_mlops import registry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Champion:
    name: str
    version: str
    model: Any  # mlflow.pyfunc.PyFuncModel: predict(features) -> score, is_anomaly
    profile: dict  # profile.build_reference_profile of its training rows and scores
    test_pr_auc: float | None


class ChampionReferenceDataset(AbstractDataset[None, "Champion | None"]):
    """The ``@champion`` version of ``registered_model_name`` (None when there is none yet).

    The model is loaded by version, not through the alias, so the scores and the profile
    always come from the same version even if the alias moves meanwhile.
    """

    def __init__(self, *, registered_model_name: str, alias: str = registry.CHAMPION,
                 profile_artifact: str = "reference_profile.json",
                 metadata: dict[str, Any] | None = None) -> None:
        self.metadata = metadata
        self._name = registered_model_name
        self._alias = alias
        self._profile_artifact = profile_artifact

    def _describe(self) -> dict[str, Any]:
        return {"registered_model_name": self._name, "alias": self._alias}

    def _load(self) -> Champion | None:
        version = registry.alias_version(self._name, self._alias)
        if version is None:
            return None
        with tempfile.TemporaryDirectory() as folder:
            path = mlflow.artifacts.download_artifacts(
                run_id=version.run_id, artifact_path=self._profile_artifact, dst_path=folder)
            profile = json.loads(Path(path).read_text())
        run = registry.client().get_run(version.run_id)
        return Champion(
            name=self._name,
            version=str(version.version),
            model=mlflow.pyfunc.load_model(registry.model_uri(self._name, version.version)),
            profile=profile,
            test_pr_auc=run.data.metrics.get("test_pr_auc"),
        )

    def _save(self, data: None) -> None:
        raise DatasetError("The champion is read-only here: the deployment pipeline moves it.")


class LocalRetrainingJob(AbstractDataset[dict, dict]):
    """Runs the retraining pipeline as ``python -m financial_mlops --env <env> --pipelines
    retraining`` in a child process of the project folder, and waits for it.

    A child process rather than a nested KedroSession: the retraining gets its own MLflow run,
    hooks and Spark session, so it cannot end or overwrite the drift run's (kedro-mlflow keeps
    one active run per process, its hook keeps per-run state), and it fails on its own: the
    drift run reports its exit code. It is killed after the request's ``timeout_seconds`` (the
    cooldown), so a local retraining never outlives its trigger's cooldown: no second trigger
    can start while one runs.
    """

    def __init__(self, *, env: str = "local", pipelines: str = "retraining",
                 metadata: dict[str, Any] | None = None) -> None:
        self.metadata = metadata
        self._env = env
        self._pipelines = pipelines

    def _command(self) -> list[str]:
        return [sys.executable, "-m", "financial_mlops", "--env", self._env,
                "--pipelines", self._pipelines]

    def _describe(self) -> dict[str, Any]:
        return {"command": " ".join(self._command())}

    def _load(self) -> dict:
        return {"active_runs": []}

    def _save(self, request: dict) -> None:
        if not request["launch"]:
            return
        command = self._command()
        log.info("Retraining: %s (%s)", " ".join(command), request["reason"])
        try:
            done = subprocess.run(command, timeout=request["timeout_seconds"], check=False)
        except subprocess.TimeoutExpired as error:
            raise DatasetError(f"retraining stopped after {error.timeout:.0f} s "
                               "(the cooldown): it must finish within it") from None
        if done.returncode:
            raise DatasetError(f"retraining `{' '.join(command)}` failed with exit code "
                               f"{done.returncode}; its log is above")


class DatabricksRetrainingJob(AbstractDataset[dict, dict]):
    """The retraining Databricks job, by id (the bundle passes it: development mode prefixes
    job names) or else by its exact name. Started without waiting; the check's id is the
    idempotency token, so a retried save cannot start a second run."""

    def __init__(self, *, job_name: str = "financial_retraining_workflow",
                 job_id: int | str | None = None,
                 metadata: dict[str, Any] | None = None) -> None:
        self.metadata = metadata
        self._job_name = job_name
        self._job_id = int(job_id) if job_id not in (None, "") else None

    def _describe(self) -> dict[str, Any]:
        return {"job_name": self._job_name, "job_id": self._job_id}

    @staticmethod
    def _workspace():
        from databricks.sdk import WorkspaceClient

        return WorkspaceClient()

    def _resolve(self, workspace) -> int:
        if self._job_id is not None:
            return self._job_id
        ids = [job.job_id for job in workspace.jobs.list(name=self._job_name)]
        if len(ids) != 1:
            raise DatasetError(
                f"{len(ids)} Databricks jobs are named '{self._job_name}' (need exactly one): "
                "pass its id with --params=drift.retraining_job_id=<id>")
        return ids[0]

    def _load(self) -> dict:
        workspace = self._workspace()
        runs = workspace.jobs.list_runs(job_id=self._resolve(workspace), active_only=True)
        return {"active_runs": [run.run_id for run in runs]}

    def _save(self, request: dict) -> None:
        if not request["launch"]:
            return
        workspace = self._workspace()
        job_id = self._resolve(workspace)
        started = workspace.jobs.run_now(job_id=job_id, idempotency_token=request["check_id"])
        log.info("Retraining: started run %s of job %s (%s)", started.run_id, job_id,
                 request["reason"])
