"""Lineage of a run: the git commit of the code (``build_info``) and the Delta versions of the
tables it read.

``DeltaLineageHooks`` tags the run's MLflow run (opened by kedro-mlflow) with
``delta_version.<dataset>`` each time a node loads a Delta dataset. A hook sees the dataset object
and the moment of the load, which a node never does, so nodes stay free of catalog objects and the
version recorded is the one current when the data was read; nodes that need the versions (the
tournament copies them to every candidate run) read them back with ``delta_version_tags``.
"""

from __future__ import annotations

from typing import Any

import mlflow
from kedro.framework.hooks import hook_impl

from financial_mlops.build_info import git_sha  # noqa: F401  (re-exported for the nodes)

DELTA_VERSION_TAG = "delta_version."


class DeltaLineageHooks:
    """Tags the active MLflow run with the Delta version of every Delta dataset loaded."""

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline, catalog) -> None:
        self._catalog = catalog

    @hook_impl
    def after_dataset_loaded(self, dataset_name: str, data: Any, node) -> None:
        dataset = self._catalog.get(dataset_name)
        if not hasattr(dataset, "delta_version") or mlflow.active_run() is None:
            return
        version = dataset.delta_version()
        if version is not None:
            table = dataset_name.partition("@")[0]  # transcoded names read the same table
            mlflow.set_tag(f"{DELTA_VERSION_TAG}{table}", version)


def delta_version_tags() -> dict[str, str]:
    """The ``delta_version.*`` tags the hook put on the active run."""
    run = mlflow.get_run(mlflow.active_run().info.run_id)
    return {k: v for k, v in run.data.tags.items() if k.startswith(DELTA_VERSION_TAG)}
