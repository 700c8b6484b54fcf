"""Credentials handed to a node through the catalog, so secrets never become parameters (which
kedro-mlflow logs) and come only from conf/local/credentials.yml, env vars or Databricks secrets."""

from __future__ import annotations

from typing import Any

from kedro.io import AbstractDataset, DatasetError


class CredentialsDataset(AbstractDataset[None, dict[str, Any]]):
    """Loads the credentials block named in the catalog entry; cannot be saved or displayed."""

    def __init__(self, *, credentials: dict[str, Any] | None = None,
                 metadata: dict[str, Any] | None = None) -> None:
        self._credentials = dict(credentials or {})
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"keys": sorted(self._credentials)}

    def _load(self) -> dict[str, Any]:
        return dict(self._credentials)

    def _save(self, data: None) -> None:
        raise DatasetError("Credentials are read-only.")
