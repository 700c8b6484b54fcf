"""Project hooks: Spark for the run's env, and Databricks envs that fail fast off Databricks."""

from __future__ import annotations

from typing import Any

import mlflow
from kedro.framework.hooks import hook_impl
from kedro_mlflow.framework.hooks import MlflowHook

from financial_mlops.errors import UserError
from financial_mlops.spark import get_spark, on_databricks


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


class SparkHooks:
    """Spark starts when a pipeline runs, not when a context is made, so ``kedro catalog`` and
    kedro-viz work for every env on any machine."""

    @hook_impl
    def after_context_created(self, context) -> None:
        self._spark_conf = context.config_loader["spark"]
        self._missing = _missing_databricks(context)

    @hook_impl(tryfirst=True)
    def before_pipeline_run(self, run_params: dict[str, Any]) -> None:
        if self._missing:
            raise UserError(self._missing)
        get_spark(self._spark_conf)


class MlflowHooks(MlflowHook):
    """kedro-mlflow's hook, idle in a Databricks env off Databricks: there it would fail on
    Databricks auth while only listing the catalog; a run stops first in ``SparkHooks``."""

    @hook_impl
    def after_context_created(self, context) -> None:
        self._idle = _missing_databricks(context) is not None
        if not self._idle:
            super().after_context_created(context)

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
