"""Every champion decision and move is an MLflow run with each check's value and verdict and a
JSON record, nested under the run kedro-mlflow opened for the pipeline."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import mlflow
from mlflow.entities import Metric, RunTag
from mlflow.tracking import MlflowClient

from financial_mlops.errors import UserError


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def start_record_run(run_name: str, tags: dict[str, str]) -> str:
    """Open (and close) the record's run, nested under the active one; returns its id, which the
    record then names. Checks and artifacts are added with ``log_checks`` and ``log_dict``."""
    with mlflow.start_run(run_name=run_name, nested=True, tags=tags) as run:
        return run.info.run_id


def log_checks(client: MlflowClient, run_id: str, checks: list[dict]) -> None:
    """Per check: tag ``check.<name>`` pass|fail, metrics ``check.<name>.passed`` and ``.value``."""
    now = int(time.time() * 1000)
    metrics = [Metric(f"check.{c['name']}.passed", float(c["passed"]), now, 0) for c in checks]
    metrics += [Metric(f"check.{c['name']}.value", c["value"], now, 0)
                for c in checks if c["value"] is not None]
    tags = [RunTag(f"check.{c['name']}", "pass" if c["passed"] else "fail") for c in checks]
    client.log_batch(run_id, metrics=metrics, tags=tags)


def write_record(record: dict, artifact: str, *, run_id: str | None = None,
                 run_name: str | None = None, tags: dict[str, str] | None = None,
                 checks: list[dict] | None = None, outcome: str | None = None) -> str:
    """The one record-run sequence: open a nested run (unless ``run_id`` names the run to add
    to), log each check, tag the outcome, attach ``record`` as the JSON ``artifact``. Returns
    the run id."""
    if run_id is None:
        run_id = start_record_run(run_name or artifact.removesuffix(".json"), tags or {})
    client = MlflowClient(tracking_uri=mlflow.get_tracking_uri(),
                          registry_uri=mlflow.get_registry_uri())
    if checks:
        log_checks(client, run_id, checks)
    if outcome is not None:
        client.set_tag(run_id, "outcome", outcome)
    client.log_dict(run_id, record, artifact)
    return run_id


def ensure_succeeded(record: dict) -> None:
    """Fail the run with the record's one-line error, once the record has been saved."""
    if record.get("error"):
        raise UserError(record["error"])
