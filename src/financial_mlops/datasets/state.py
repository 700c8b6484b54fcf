"""Small JSON state (ingestion cursors, trigger history) that starts empty on a first run."""

from __future__ import annotations

from typing import Any

from kedro_datasets.json import JSONDataset


class JSONStateDataset(JSONDataset):
    """kedro-datasets' JSONDataset that loads ``{}`` when the file does not exist yet."""

    def load(self) -> Any:
        if not self._exists():
            return {}
        return super().load()
