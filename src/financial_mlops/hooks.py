"""Project hooks: Spark for the run's env, and Databricks envs that fail fast off Databricks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
from kedro.framework.hooks import hook_impl
from kedro_mlflow.framework.hooks import MlflowHook

from financial_mlops.errors import UserError
from financial_mlops.relocation import anchor_mlflow_conf
from financial_mlops.spark import get_spark, on_databricks, use_conf


def _missing_databricks(context) -> str | None:
    """Why this env cannot run here, or None. Dev/acc/prd read Unity Catalog tables and the
    Databricks MLflow registry, so their pipelines run only inside a Databricks runtime."""
    if context.config_loader["globals"].get("platform") != "databricks" or on_databricks():
        return None
    return (
        f"env '{context.env}' runs on Databricks (Unity Catalog tables, databricks-uc registry) "
        "and this machine has no Databricks runtime (DATABRICKS_RUNTIME_VERSION is unset): deploy "
        f"with `databricks bundle deploy -t {context.env}` and run its jobs there, or run locally "
        "with `--env local`"
    )


def _anchored(spark_conf: dict[str, Any], project_path: Path) -> dict[str, Any]:
    """A relative warehouse folder taken under the project, not the working folder (a notebook
    runs in ``notebooks/``)."""
    warehouse = spark_conf.get("spark.sql.warehouse.dir")
    if not warehouse or "://" in warehouse or Path(warehouse).is_absolute():
        return spark_conf
    return {**spark_conf, "spark.sql.warehouse.dir": str(project_path / warehouse)}


class SparkHooks:
    """The context's ``spark.yml`` is registered when the context is made and the session starts
    on first use: a run, or ``catalog.load`` in ``kedro ipython`` / a notebook / a plain
    ``KedroSession``. Listing the catalog starts no Spark, so ``kedro catalog`` and kedro-viz
    work for every env on any machine."""

    @hook_impl
    def after_context_created(self, context) -> None:
        self._spark_conf = _anchored(context.config_loader["spark"], Path(context.project_path))
        self._missing = _missing_databricks(context)
        if not self._missing:
            use_conf(self._spark_conf)

    @hook_impl(tryfirst=True)
    def before_pipeline_run(self, run_params: dict[str, Any]) -> None:
        if self._missing:
            raise UserError(self._missing)
        get_spark(self._spark_conf)


# What MLflow 3's UI reads to open an experiment on its training runs, not on the GenAI
# overview (traces, sessions) it shows by default.
EXPERIMENT_KIND = ("mlflow.experimentKind", "custom_model_development")
# Parent run names: kedro-mlflow names a run after its pipelines, and "__default__" says nothing.
RUN_NAMES = {"__default__": "full-flow"}


def run_name(run_params: dict[str, Any]) -> str:
    """The parent run's name: what the run does (``tournament``, ``retraining``, ...)."""
    names = run_params.get("pipeline_names") or [run_params.get("pipeline_name") or "__default__"]
    return "+".join(RUN_NAMES.get(name, name) for name in names)


class MlflowHooks(MlflowHook):
    """kedro-mlflow's hook, idle in a Databricks env off Databricks: there it would fail on
    Databricks auth while only listing the catalog; a run stops first in ``SparkHooks``.

    Locally, the SQLite store is found under the project whatever the working folder (a
    notebook runs in ``notebooks/``) and re-rooted if the project moved; the experiment opens on
    its training runs in MLflow's UI and parent runs are named after what they do."""

    @hook_impl
    def after_context_created(self, context) -> None:
        self._idle = _missing_databricks(context) is not None
        if self._idle:
            return
        context.config_loader["mlflow"] = anchor_mlflow_conf(
            context.config_loader["mlflow"], Path(context.project_path))
        super().after_context_created(context)
        experiment = context.mlflow.tracking.experiment._experiment
        key, value = EXPERIMENT_KIND
        if experiment is not None and experiment.tags.get(key) != value:
            context.mlflow.server._mlflow_client.set_experiment_tag(
                experiment.experiment_id, key, value)

    @hook_impl
    def before_pipeline_run(self, run_params, pipeline, catalog) -> None:
        run = self.mlflow_config.tracking.run
        configured = run.name
        run.name = configured or run_name(run_params)
        try:
            super().before_pipeline_run(run_params, pipeline, catalog)
        finally:
            run.name = configured

    @hook_impl
    def after_catalog_created(  # noqa: PLR0913
        self, catalog, conf_catalog, conf_creds, parameters, save_version, load_versions
    ) -> None:
        if not self._idle:
            super().after_catalog_created(
                catalog, conf_catalog, conf_creds, parameters, save_version, load_versions
            )

    @hook_impl
    def after_pipeline_run(self, run_params, pipeline, catalog) -> None:
        super().after_pipeline_run(run_params, pipeline, catalog)
        _close_leftover_runs()

    @hook_impl
    def on_pipeline_error(self, error, run_params, pipeline, catalog) -> None:
        super().on_pipeline_error(error, run_params, pipeline, catalog)
        _close_leftover_runs()


def _close_leftover_runs() -> None:
    """kedro-mlflow marks its run finished but can leave it on MLflow's active-run stack; a
    second pipeline run in the same process (tests, the live demo, drift-triggered retraining)
    would then log into the finished run."""
    while mlflow.active_run() is not None:
        mlflow.end_run()
