"""Kedro datasets for what kedro-datasets does not cover: Delta MERGE and streaming by path or
Unity Catalog name, a landing zone of JSON-lines files, and small JSON state files."""

from financial_mlops.datasets.delta import DeltaDataset
from financial_mlops.datasets.landing import LandingZoneDataset
from financial_mlops.datasets.secrets import CredentialsDataset
from financial_mlops.datasets.state import JSONStateDataset

__all__ = ["CredentialsDataset", "DeltaDataset", "JSONStateDataset", "LandingZoneDataset"]
