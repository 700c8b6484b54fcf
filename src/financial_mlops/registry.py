"""The MLflow Model Registry as the source of truth for what serves.

Works the same on the local SQLite registry and on Unity Catalog (three-level names, aliases only).
Aliases are read with ``get_model_version_by_alias``: ``search_model_versions`` returns empty
aliases (a known MLflow bug).
"""

from __future__ import annotations

from functools import lru_cache

import mlflow
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

CHAMPION = "champion"
PREVIOUS_CHAMPION = "previous_champion"


def client() -> MlflowClient:
    """A client on the tracking and registry URIs kedro-mlflow configured for this env."""
    return MlflowClient(tracking_uri=mlflow.get_tracking_uri(),
                        registry_uri=mlflow.get_registry_uri())


def alias_version(name: str, alias: str, mlflow_client: MlflowClient | None = None
                  ) -> ModelVersion | None:
    """The version behind ``name@alias``, or None when the model or the alias does not exist."""
    try:
        return (mlflow_client or client()).get_model_version_by_alias(name, alias)
    except MlflowException as error:
        if error.error_code in {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"}:
            return None
        raise


def model_uri(name: str, version: str | int) -> str:
    return f"models:/{name}/{version}"


def load_version(name: str, version: str) -> mlflow.pyfunc.PyFuncModel:
    """Load a model version once per process and registry: versions are immutable, aliases are
    not, so callers resolve the alias each time and hit this cache while it is unchanged."""
    return _load_version(mlflow.get_registry_uri(), name, version)


@lru_cache(maxsize=4)
def _load_version(registry_uri: str, name: str, version: str) -> mlflow.pyfunc.PyFuncModel:
    """Keyed by registry too: another registry's version 1 of the same name is another model."""
    return mlflow.pyfunc.load_model(model_uri(name, version))


def model_versions(name: str, mlflow_client: MlflowClient | None = None) -> list[ModelVersion]:
    """Every version of ``name``, newest first (empty when the model does not exist)."""
    found = (mlflow_client or client()).search_model_versions(f"name = '{name}'")
    return sorted(found, key=lambda version: int(version.version), reverse=True)
