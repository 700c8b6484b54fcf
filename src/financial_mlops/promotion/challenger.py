"""Which version is the challenger, and what its training run shows about it.

The challenger is the latest registered version, unless it is the champion or was already decided
(it then carries the ``promotion_decision`` tag): older undecided versions were superseded by a
newer tournament and are never picked up later. A version whose promotion lost a race keeps no tag
and is decided again, against the new champion, on the next run.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import mlflow
from mlflow.entities.model_registry import ModelVersion
from mlflow.tracking import MlflowClient

from financial_mlops import registry
from financial_mlops.build_info import UNKNOWN
from financial_mlops.errors import UserError
from financial_mlops.lineage import labels_mode_of
from financial_mlops.spark import on_databricks

DECISION_TAG = "promotion_decision"
STABILITY_METRICS = ("train_val_gap", "batch_pr_auc_spread")
OOD_METRICS = ("ood_test_pr_auc", "rule_ood_test_pr_auc")
RUN_ITEM_KINDS = ("params", "metrics", "tags", "artifacts")
BY_LABELS_MODE = "by_labels_mode"

logger = logging.getLogger(__name__)

def required_for_mode(required: Mapping[str, Any], mode: str) -> dict[str, list[str]]:
    """What a run trained in labels ``mode`` must hold: ``required``'s lists plus those its
    ``by_labels_mode`` entry for the mode adds (the lineage that mode produces)."""
    by_mode = required.get(BY_LABELS_MODE)
    if by_mode is not None and mode not in by_mode:
        raise UserError(f"deployment.required.{BY_LABELS_MODE} has no entry for the "
                        f"challenger's labels mode '{mode}' (it has {', '.join(by_mode)})")
    lists = [{k: v for k, v in required.items() if k != BY_LABELS_MODE},
             (by_mode or {}).get(mode) or {}]
    unknown = {kind for items in lists for kind in items} - set(RUN_ITEM_KINDS)
    if unknown:
        raise UserError(f"deployment.required has unknown kinds {sorted(unknown)}: use "
                        f"{', '.join(RUN_ITEM_KINDS)} (and {BY_LABELS_MODE})")
    return {kind: [name for items in lists for name in items.get(kind) or []]
            for kind in RUN_ITEM_KINDS}


def newest_challenger(client: MlflowClient, name: str, champion: str | None
                      ) -> ModelVersion | None:
    """The latest version if it still awaits a decision, else None."""
    versions = registry.model_versions(name, client)
    if not versions:
        return None
    # Read with get_model_version: searches may omit tags (Unity Catalog does).
    latest = client.get_model_version(name, versions[0].version)
    if str(latest.version) == str(champion) or DECISION_TAG in (latest.tags or {}):
        return None
    return latest


def _artifacts(client: MlflowClient, version: ModelVersion) -> set[str]:
    """Top-level artifacts of the version's run, plus ``model`` when the registered model files
    are there (MLflow 3 stores a logged model beside the run, not under its artifacts)."""
    names = {artifact.path for artifact in client.list_artifacts(version.run_id)}
    model_files = mlflow.artifacts.list_artifacts(
        artifact_uri=client.get_model_version_download_uri(version.name, version.version))
    if any(item.path.rsplit("/", 1)[-1] == "MLmodel" for item in model_files):
        names.add("model")
    return names


def run_items(client: MlflowClient, version: ModelVersion) -> dict[str, Any]:
    """What the version's training run logged: its params, metrics, tags and artifact names
    (empty when it has no run)."""
    if not version.run_id:
        return {"run_id": None}
    data = client.get_run(version.run_id).data
    return {"run_id": version.run_id, "params": dict(data.params), "metrics": dict(data.metrics),
            "tags": dict(data.tags), "artifacts": sorted(_artifacts(client, version))}


def run_evidence(items: Mapping[str, Any], version: str, required: Mapping[str, Any]) -> dict:
    """The required run items (``run_items``; ``required_for_mode`` of the run's labels mode)
    the version lacks (``metric test_f1``, ``artifact model``...) and its stability metrics, as
    logged by the tournament."""
    if not items.get("run_id"):
        return {"missing": [f"the training run of version {version}"]}
    required = required_for_mode(required, labels_mode_of(items["tags"]))
    missing = [f"{kind.removesuffix('s')} {item}" for kind, names in required.items()
               for item in names if item not in items[kind]]
    if items["tags"].get("git_sha") == UNKNOWN and "git_sha" in required.get("tags", []):
        # A wheel records its commit when scripts/build_package.sh builds it in a checkout; on
        # Databricks an unknown commit means an untraceable model. Locally, a source copy
        # without git is common (a tarball, a container): say so, and go on.
        if on_databricks():
            missing.append("tag git_sha (it is 'unknown': build the wheel with "
                           "scripts/build_package.sh in a git checkout)")
        else:
            logger.warning("Version %s was trained from code of unknown commit (no git "
                           "checkout, no recorded build commit)", version)
    return {"missing": missing, **{metric: items["metrics"].get(metric)
                                   for metric in (*STABILITY_METRICS, *OOD_METRICS)}}
