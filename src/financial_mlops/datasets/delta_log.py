"""The Delta log of a table on this machine's disk, read directly.

The progress and lineage hooks ask a table for its version before and after every save and load,
and every load first asks whether the table exists. Through Spark each answer is a job
(``DESCRIBE HISTORY``/``DESCRIBE DETAIL`` replay the log): about a second each on a laptop, the
first one in a new JVM ten seconds or more, several seconds per save in all. Read from the files
the Delta protocol defines (``_delta_log/<version, 20 digits>.json``, one JSON action per line,
the commit's ``commitInfo`` among them, and the optional version checksum ``<version>.crc``
with the table's size after it) the same answers cost milliseconds. Tables in a metastore
or on object storage (Unity Catalog on Databricks) are still asked through SQL.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

_COMMIT_FILE = re.compile(r"^(\d{20})\.json$")


def local_log(path: str) -> Path | None:
    """The ``_delta_log`` folder of a table at ``path`` when that is a local path (no scheme,
    or ``file:``), else None."""
    parsed = urlparse(path)
    if parsed.scheme == "file":
        return Path(parsed.path) / "_delta_log"
    if parsed.scheme:
        return None
    return Path(os.path.abspath(path)) / "_delta_log"


def commit_versions(log: Path) -> list[int]:
    """The versions whose commit files the log holds, oldest first (none: no table there)."""
    try:
        names = os.listdir(log)
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(int(match[1]) for name in names if (match := _COMMIT_FILE.match(name)))


def operation_metrics(log: Path, version: int) -> dict[str, str]:
    """The ``operationMetrics`` of one commit, as ``DESCRIBE HISTORY`` shows them."""
    with open(log / f"{version:020d}.json", encoding="utf-8") as commit:
        for line in commit:
            action = json.loads(line)
            if "commitInfo" in action:
                return action["commitInfo"].get("operationMetrics") or {}
    return {}


def version_checksum(log: Path, version: int) -> dict[str, Any] | None:
    """The version checksum Delta writes after a commit (``tableSizeBytes``, ``numFiles``,
    ``metadata``...), or None where there is none: the protocol makes it optional."""
    try:
        with open(log / f"{version:020d}.crc", encoding="utf-8") as checksum:
            return json.load(checksum)
    except FileNotFoundError:
        return None
