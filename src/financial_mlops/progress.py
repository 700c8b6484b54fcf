"""Progress of a run people can follow: the rows each node wrote, as each save finishes.

Kedro logs which node runs and which dataset it saves, not how much: on millions of trades a run
looks stuck between two lines. After every Delta save this logs the rows the save inserted,
updated and deleted (bronze -> silver / quarantine -> gold -> scores), from the table's own commit
metrics, so it costs no extra pass over the data. At the end of a run the tables it wrote get
their rows, columns and size in kedro-viz's ``.viz/stats.json`` (kedro-viz's own hook counts only
pandas DataFrames).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from kedro.framework.hooks import hook_impl

logger = logging.getLogger(__name__)


def describe(rows: dict[str, int]) -> str:
    """``{'inserted': 9950, 'updated': 0, ...}`` -> ``9,950 rows inserted``."""
    parts = [f"{count:,} {what}" for what, count in rows.items() if count or what == "inserted"]
    return "rows " + ", ".join(parts) if parts else "no rows"


class ProgressHooks:
    """Logs ``<node>: <dataset> <rows>`` after each save of a dataset with ``rows_written``."""

    def __init__(self) -> None:
        self._catalog: Any = None
        self._project: Path | None = None
        self._versions: dict[str, int | None] = {}
        self._saved: set[str] = set()

    @hook_impl
    def after_context_created(self, context) -> None:
        self._project = Path(context.project_path)

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline, catalog) -> None:
        self._catalog = catalog
        self._versions, self._saved = {}, set()

    def _counted(self, dataset_name: str) -> Any:
        dataset = self._catalog.get(dataset_name) if self._catalog is not None else None
        return dataset if hasattr(dataset, "rows_written") else None

    @hook_impl
    def before_dataset_saved(self, dataset_name: str, data: Any, node) -> None:
        dataset = self._counted(dataset_name)
        if dataset is not None:
            self._versions[dataset_name] = dataset.delta_version()

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data: Any, node) -> None:
        if dataset_name not in self._versions:
            return
        rows = self._counted(dataset_name).rows_written(self._versions.pop(dataset_name))
        logger.info("%s: %s %s", node.name, dataset_name, describe(rows))
        self._saved.add(dataset_name)

    @hook_impl(trylast=True)  # after kedro-viz's own hook has (re)written the file
    def after_pipeline_run(self, run_params: dict[str, Any], pipeline, catalog) -> None:
        if self._project is None or not self._saved:
            return
        path = self._project / ".viz" / "stats.json"
        stats = json.loads(path.read_text()) if path.is_file() else {}
        for name in sorted(self._saved):
            stats[name] = self._counted(name).statistics()
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(stats))
