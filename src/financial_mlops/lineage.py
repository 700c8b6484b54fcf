"""Lineage of a run: the git commit of the code (``build_info``), the Delta versions of the
tables it read, and where its training labels came from.

``DeltaLineageHooks`` tags the run's MLflow run (opened by kedro-mlflow) with
``delta_version.<dataset>`` each time a node loads a Delta dataset. A hook sees the dataset object
and the moment of the load, which a node never does, so nodes stay free of catalog objects and the
version recorded is the one current when the data was read; nodes that need the versions (the
tournament copies them to every candidate run) read them back with ``delta_version_tags``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
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


# Where a run's training labels came from (``tournament.labels``): the tournament tags every
# candidate run with it and with the injection it made, so the deployment judges the challenger
# on rows of the same kind and a judgement can be reproduced. A run without the tag predates the
# modes: its labels were the simulator's.
LABELS_MODE_TAG = "labels_mode"
LABEL_MODES = ("simulator", "injected")
DEFAULT_LABELS_MODE = "simulator"
# tournament.injected setting -> the tag that records it.
INJECTION_TAGS = {"seed": "injection_seed", "rate": "injection_rate",
                  "anomaly_mix": "injection_mix", "max_trades": "injection_max_trades"}


def labels_mode_of(tags: Mapping[str, str]) -> str:
    """The training-labels mode a run's tags record."""
    return tags.get(LABELS_MODE_TAG, DEFAULT_LABELS_MODE)


def injection_tags(injected: Mapping[str, Any]) -> dict[str, str]:
    """``tournament.injected`` as run tags (JSON values, so that they read back exactly)."""
    return {tag: json.dumps(injected.get(setting)) for setting, tag in INJECTION_TAGS.items()}


def injection_of(tags: Mapping[str, str]) -> dict[str, Any]:
    """The ``tournament.injected`` settings a run's tags record (``injection_tags`` reversed);
    a setting the run did not record is None."""
    return {setting: json.loads(tags[tag]) if tag in tags else None
            for setting, tag in INJECTION_TAGS.items()}
