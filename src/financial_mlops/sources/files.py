"""The ``files`` trade source: JSON-lines or CSV files dropped in a folder, each read once."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from financial_mlops.errors import UserError

_SUFFIXES = {".json", ".jsonl", ".ndjson", ".csv"}


def read_new_files(config: dict, cursor: dict | None) -> tuple[list[str], dict]:
    """Return (lines, next_cursor): every line of every file not read before, as raw text.

    JSON lines pass through untouched (bronze parses them and keeps the broken ones raw); a CSV
    row becomes a JSON object of strings, or its raw text if it has the wrong number of fields.
    A file is known by name, size and modification time, so a rewritten file is read again.
    """
    folder = Path(config["path"])
    if not folder.is_dir():
        raise UserError(f"ingestion.files.path '{folder}' is not a folder")
    seen = dict((cursor or {}).get("files", {}))
    lines: list[str] = []
    for file in sorted(p for p in folder.iterdir() if p.suffix.lower() in _SUFFIXES):
        stat = file.stat()
        fingerprint = f"{stat.st_size}:{stat.st_mtime_ns}"
        if seen.get(file.name) == fingerprint:
            continue
        text = file.read_text(encoding="utf-8", errors="replace")
        lines.extend(_csv_lines(text) if file.suffix.lower() == ".csv" else text.splitlines())
        seen[file.name] = fingerprint
    return lines, {"files": seen}


def _csv_lines(text: str) -> list[str]:
    rows = csv.reader(text.splitlines())
    header = next(rows, None)
    if header is None:
        return []
    header = [name.strip() for name in header]
    return [
        json.dumps(dict(zip(header, row, strict=True))) if len(row) == len(header)
        else ",".join(row)
        for row in rows
    ]
