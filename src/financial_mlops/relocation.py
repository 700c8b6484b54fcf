"""A project folder that is copied or moved keeps working: stored absolute paths are re-rooted.

Two stores keep absolute paths that Kedro's relative conf does not: MLflow's SQLite database (the
experiment's artifact location, inherited by every run and model version) and Spark's stream
checkpoints (the files a stream has read, e.g. ``file:/<folder>/data/01_raw/...``). In a copy they
point into the old folder: new MLflow artifacts are written there, and the landing -> bronze
stream stops with "Wrong basePath". Both are re-rooted when they are next used, from where they
were (the experiment's location; a ``_location`` file in the checkpoint) to where they are now.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path, PurePath
from typing import Any
from urllib.parse import unquote, urlparse

logger = logging.getLogger(__name__)

# Where MLflow 3's SQLite schema holds local paths.
_MLFLOW_PATH_COLUMNS = (
    ("experiments", "artifact_location"),
    ("runs", "artifact_uri"),
    ("logged_models", "artifact_location"),
    ("model_versions", "source"),
    ("model_versions", "storage_location"),
)
_CHECKPOINT_MARKER = "_location"


def _roots(before: str, now: str) -> tuple[str, str] | None:
    """The folders that differ between two locations of the same thing, without the common
    tail (``/a/proj/data/x``, ``/b/copy/data/x`` -> ``/a/proj``, ``/b/copy``)."""
    old, new = PurePath(before).parts, PurePath(now).parts
    common = 0
    while common < min(len(old), len(new)) - 1 and old[-1 - common] == new[-1 - common]:
        common += 1
    if old == new or common == 0:
        return None
    return str(PurePath(*old[: len(old) - common])), str(PurePath(*new[: len(new) - common]))


def _local_path(uri: str) -> str:
    parsed = urlparse(uri)
    return unquote(parsed.path) if parsed.scheme == "file" else uri


def sqlite_path(uri: str, project_path: Path) -> Path | None:
    """The database file of a ``sqlite:///`` URI, relative ones taken under the project."""
    if not uri.startswith("sqlite:///"):
        return None
    path = Path(uri.removeprefix("sqlite:///"))
    return path if path.is_absolute() else project_path / path


def anchor_mlflow_conf(conf: dict[str, Any], project_path: Path) -> dict[str, Any]:
    """``conf`` (mlflow.yml) with relative SQLite URIs made absolute under the project: MLflow
    resolves them against the working folder, so a notebook in ``notebooks/`` would open (and
    create) another database. Re-roots the store's paths if the project has moved."""
    server = dict(conf.get("server") or {})
    for key in ("mlflow_tracking_uri", "mlflow_registry_uri"):
        path = sqlite_path(server.get(key) or "", project_path)
        if path is not None:
            server[key] = f"sqlite:///{path}"
    conf = {**conf, "server": server}
    db = sqlite_path(server.get("mlflow_tracking_uri") or "", project_path)
    experiment = (conf.get("tracking") or {}).get("experiment") or {}
    location = (experiment.get("create_experiment_kwargs") or {}).get("artifact_location")
    if db is not None and db.is_file() and location and "://" not in location \
            and not PurePath(location).is_absolute():
        reroot_mlflow_store(db, experiment.get("name"), str(project_path / location))
    return conf


def reroot_mlflow_store(db: Path, experiment_name: str, artifact_location: str) -> None:
    """Point every stored artifact path at this folder when the experiment's artifact location
    (made in another folder) is not ``artifact_location``."""
    with sqlite3.connect(db) as connection:
        tables = {row[0] for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "experiments" not in tables:
            return
        row = connection.execute("SELECT artifact_location FROM experiments WHERE name = ?",
                                 (experiment_name,)).fetchone()
        roots = row and _roots(_local_path(row[0]), artifact_location)
        if not roots:
            return
        old, new = (f"{root}/" for root in roots)
        for table, column in _MLFLOW_PATH_COLUMNS:
            if table in tables:
                connection.execute(
                    f"UPDATE {table} SET {column} = replace({column}, ?, ?) "  # noqa: S608
                    f"WHERE instr({column}, ?) > 0", (old, new, old))
    logger.info("MLflow store %s re-rooted from %s to %s (the project folder moved)", db, *roots)


def reroot_checkpoint(checkpoint: str) -> None:
    """Re-root a local stream checkpoint that was used in another folder, then remember where
    it is. The sources' logs hold the paths of the files read; their ``.crc`` checksums would no
    longer match the rewritten text, so they go (Hadoop reads a file without one as is)."""
    folder = Path(checkpoint)
    marker = folder / _CHECKPOINT_MARKER
    here = str(folder.resolve())
    if marker.is_file():
        roots = _roots(marker.read_text().strip(), here)
        if roots:
            old, new = (f"{root}/" for root in roots)
            for log in (folder / "sources").rglob("*"):
                if log.is_file() and not log.name.endswith(".crc"):
                    text = log.read_text()
                    if old in text:
                        log.write_text(text.replace(old, new))
                        (log.parent / f".{log.name}.crc").unlink(missing_ok=True)
            logger.info("Stream checkpoint %s re-rooted from %s to %s", checkpoint, *roots)
    folder.mkdir(parents=True, exist_ok=True)
    marker.write_text(here)
