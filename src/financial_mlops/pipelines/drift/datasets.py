"""The drift pipeline's external I/O as Kedro datasets, so its nodes stay pure (the champion
it checks is ``datasets.registry.ChampionDataset``, with its reference profile).

- ``LocalRetrainingJob`` / ``DatabricksRetrainingJob`` start the retraining (save) and tell
  whether one is running (load); the env's catalog picks one, nodes never ask where they run.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from typing import Any

from kedro.io import AbstractDataset, DatasetError

log = logging.getLogger(__name__)


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
