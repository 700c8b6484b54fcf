"""The ``files`` trade source: the exports people drop in a folder (JSON lines, JSON arrays,
CSV, Parquet, each maybe gzip/bz2/zstd-compressed), each file read once, in bounded memory.

Files are streamed record by record and handed to the landing zone in chunks of
``chunk_rows`` records, so memory stays flat however large the drop is (a 371 MB drop read
whole used to peak at 1.09 GB). Each chunk lands under a name derived from its source file's
identity (name, size, modification time) and the chunk number: a run that dies in the middle
of a file re-reads it on the next run and rewrites the same landing files, so its trades are
neither lost nor doubled. Records that do not parse are passed on as their raw text; bronze
keeps them and silver quarantines them with a reason.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import hashlib
import io
import json
import logging
import math
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from itertools import count, islice
from pathlib import Path
from typing import IO, Any

from financial_mlops.errors import UserError

logger = logging.getLogger(__name__)

DEFAULT_CHUNK_ROWS = 50_000
_FORMATS = {".json": "json", ".jsonl": "json", ".ndjson": "json", ".csv": "csv",
            ".parquet": "parquet", ".pq": "parquet"}
_COMPRESSIONS = {".gz": "gzip", ".gzip": "gzip", ".bz2": "bz2", ".zst": "zstd", ".zstd": "zstd"}
_BLOCK = 1 << 20  # characters read at a time from a JSON array or multi-line JSON file
# A JSON value still unfinished after this many characters is reported as broken rather than
# buffered further: no trade record comes near it, and memory stays bounded.
_MAX_RECORD_CHARS = 16 << 20
_WHITESPACE = re.compile(r"[ \t\r\n]*")
_LISTED_NAMES = 20  # names shown in the one-line report of skipped files
_PARQUET_BATCH = 10_000

csv.field_size_limit(max(csv.field_size_limit(), _MAX_RECORD_CHARS))


@dataclass(frozen=True)
class LandingChunk:
    """Up to ``chunk_rows`` raw records of one source file, to land as the file ``name``."""

    name: str
    lines: list[str]


def read_new_files(config: dict, cursor: dict | None) -> tuple[Iterator[LandingChunk], dict]:
    """Return (chunks, next_cursor): a lazy stream of the records of every file not read
    before, and the cursor that marks them read once the chunks have landed.

    A file is known by name, size and modification time, so a rewritten file is read again.
    Files of an unknown type are named in one log line per run; hidden files (``.name``,
    ``_name``: uploads in progress, by the convention Spark and Auto Loader share) are not.
    """
    folder = Path(config["path"])
    if not folder.is_dir():
        raise UserError(f"ingestion.files.path '{folder}' is not a folder")
    chunk_rows = int(config.get("chunk_rows", DEFAULT_CHUNK_ROWS))
    if chunk_rows < 1:
        raise UserError(f"ingestion.files.chunk_rows must be at least 1, not {chunk_rows}")
    seen = dict((cursor or {}).get("files", {}))
    new: list[tuple[Path, str, str]] = []
    unknown: list[str] = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith((".", "_")):
            continue
        kind = file_kind(entry.name) if entry.is_file() else None
        if kind is None:
            unknown.append(entry.name + ("/" if entry.is_dir() else ""))
            continue
        stat = entry.stat()
        fingerprint = f"{stat.st_size}:{stat.st_mtime_ns}"
        if seen.get(entry.name) != fingerprint:
            new.append((entry, kind[0], fingerprint))
            seen[entry.name] = fingerprint
    if unknown:
        shown = ", ".join(unknown[:_LISTED_NAMES]) + (", ..." if len(unknown) > _LISTED_NAMES
                                                       else "")
        logger.warning("files source: skipped %d file(s) of unknown type in %s: %s "
                       "(readable: .json .jsonl .ndjson .csv .parquet, optionally .gz .bz2 .zst)",
                       len(unknown), folder, shown)
    return _chunks(new, chunk_rows), {"files": seen}


def file_kind(name: str) -> tuple[str, str | None] | None:
    """(format, compression) told by a file name's suffixes, or None for an unknown type."""
    suffixes = [s.lower() for s in Path(name).suffixes]
    compression = _COMPRESSIONS.get(suffixes[-1]) if suffixes else None
    if compression:
        suffixes = suffixes[:-1]
    fmt = _FORMATS.get(suffixes[-1]) if suffixes else None
    return (fmt, compression) if fmt else None


def _chunks(files: list[tuple[Path, str, str]], chunk_rows: int) -> Iterator[LandingChunk]:
    for path, fmt, fingerprint in files:
        # The chunk size is part of the identity: other boundaries under the same names could
        # replace landed records by different ones.
        identity = hashlib.sha256(f"{path.name}\0{fingerprint}\0{chunk_rows}".encode())
        stem = re.sub(r"[^A-Za-z0-9-]+", "_", path.name)[:48]
        records = iter_records(path, fmt)
        for number in count():
            lines = list(islice(records, chunk_rows))
            if not lines:
                break
            yield LandingChunk(f"file-{stem}-{identity.hexdigest()[:16]}-{number:06d}.json", lines)


def iter_records(path: Path, fmt: str | None = None) -> Iterator[str]:
    """Every record of one file as one line of text: a JSON object where it parses, else the
    raw text of the broken record. Blank lines are not records.

    A file that cannot be read to its end (a truncated archive, a damaged Parquet footer) keeps
    the records read before the damage and ends in one raw record naming the error, which
    silver quarantines: the run goes on and the damage is visible where the data is."""
    kind = file_kind(path.name)
    fmt = fmt or (kind[0] if kind else None)
    compression = kind[1] if kind else None
    try:
        if fmt == "parquet":
            yield from _parquet_records(path, compression)
        else:
            with _open_text(path, compression) as text:
                yield from (_csv_records(text) if fmt == "csv" else _json_records(text))
    except _read_errors() as error:
        logger.warning("files source: '%s' is damaged; records after the damage are lost: %s",
                       path.name, error)
        yield f"unreadable rest of file {path.name}: {type(error).__name__}: {error}"


def records_of_file(name: str, content: bytes) -> list[str]:
    """``iter_records`` of a file given whole as its name and bytes: how the declarative
    pipeline's bronze reads the CSV and Parquet files Spark's ``binaryFile`` source (Auto Loader
    on Databricks) hands it, with the very readers of this source."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / (Path(name).name or "file")
        path.write_bytes(content)
        return list(iter_records(path))


def _read_errors() -> tuple[type[BaseException], ...]:
    errors: tuple[type[BaseException], ...] = (OSError, EOFError, ValueError)  # ArrowInvalid too
    try:
        import zstandard
    except ImportError:
        return errors
    return (*errors, zstandard.ZstdError)


@contextmanager
def _open_binary(path: Path, compression: str | None) -> Iterator[IO[bytes]]:
    opener = {"gzip": gzip.open, "bz2": bz2.open, "zstd": _zstd_open}.get(compression, open)
    with opener(path, "rb") as handle:
        yield handle


def _zstd_open(path: Path, mode: str) -> IO[bytes]:
    import zstandard  # only when a .zst file is there

    return zstandard.ZstdDecompressor().stream_reader(open(path, mode), closefd=True)  # noqa: SIM115


@contextmanager
def _open_text(path: Path, compression: str | None) -> Iterator[io.TextIOBase]:
    """UTF-8 text; a leading BOM is dropped, undecodable bytes become U+FFFD (the broken record
    is kept, not the run stopped). ``newline=''`` leaves CR/LF to the readers below."""
    with _open_binary(path, compression) as raw:
        reader = io.BufferedReader(raw) if not isinstance(raw, io.BufferedIOBase) else raw
        text = io.TextIOWrapper(reader, encoding="utf-8-sig", errors="replace", newline="")
        try:
            yield text
        finally:
            text.detach()


def _json_records(text: io.TextIOBase) -> Iterator[str]:
    """JSON lines, a JSON array, or one (or several) multi-line JSON objects, told apart by the
    start of the file: ``[`` is an array; a first line that is a whole JSON value means lines."""
    first = ""
    for line in text:
        if line.strip():
            first = line
            break
    if not first:
        return
    start = first.lstrip()
    if start.startswith("["):
        yield from _json_values(first, text, in_array=True)
    elif start.startswith("{") and not _is_json(first):
        yield from _json_values(first, text, in_array=False)
    else:
        yield first.rstrip("\r\n")
        for line in text:
            if line.strip():
                yield line.rstrip("\r\n")


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _json_values(head: str, text: io.TextIOBase, *, in_array: bool) -> Iterator[str]:
    """The raw text of each element of a JSON array (or of each top-level value), decoded
    incrementally from blocks of the file. A value that does not decode is passed on as the
    text of its first line, and decoding resumes at the next line."""
    decoder = json.JSONDecoder()
    buffer, pos, eof = head, 0, False

    def more() -> bool:
        nonlocal buffer, pos, eof
        if eof:
            return False
        block = text.read(_BLOCK)
        eof = not block
        buffer, pos = buffer[pos:] + block, 0
        return not eof

    def skip_whitespace() -> None:
        nonlocal pos
        while True:
            pos = _WHITESPACE.match(buffer, pos).end()
            if pos < len(buffer) or not more():
                return

    skip_whitespace()
    if in_array:
        pos += 1  # the opening bracket
    while True:
        skip_whitespace()
        if pos >= len(buffer):
            return
        if in_array and buffer[pos] in ",]":
            pos += 1
            continue
        try:
            value, end = decoder.raw_decode(buffer, pos)
        except ValueError:
            if len(buffer) - pos < _MAX_RECORD_CHARS and more():
                continue
            newline = buffer.find("\n", pos)
            while newline < 0 and len(buffer) - pos < _MAX_RECORD_CHARS and more():
                newline = buffer.find("\n", pos)
            end = newline if newline >= 0 else len(buffer)
            yield buffer[pos:end].strip()
            pos = end
            continue
        # A number at the end of the block may go on in the next one.
        if (end == len(buffer) and not eof and not isinstance(value, dict | list | str)
                and more()):
            continue
        yield buffer[pos:end]
        pos = end


def _csv_records(text: io.TextIOBase) -> Iterator[str]:
    """A row becomes a JSON object of strings keyed by the header, or its raw text if it has
    the wrong number of fields. Quoted fields may hold commas and line breaks."""
    rows = csv.reader(text)
    header = next(rows, None)
    if header is None:
        return
    header = [name.strip() for name in header]
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except csv.Error as error:
            yield f"unreadable CSV row at line {rows.line_num}: {error}"
            continue
        if not row or not any(field.strip() for field in row):
            continue
        yield (json.dumps(dict(zip(header, row, strict=True))) if len(row) == len(header)
               else ",".join(row))


def _parquet_records(path: Path, compression: str | None) -> Iterator[str]:
    """Rows of a Parquet file, a row group batch at a time, as JSON objects. Timestamp columns
    become ISO-8601 text in UTC (a naive one is taken as UTC, as everywhere in silver)."""
    import pyarrow.parquet as pq  # only when a Parquet file is there

    with _seekable(path, compression) as local:
        for batch in pq.ParquetFile(local).iter_batches(batch_size=_PARQUET_BATCH):
            for row in batch.to_pylist():
                yield json.dumps(row, default=_json_value)


@contextmanager
def _seekable(path: Path, compression: str | None) -> Iterator[Path]:
    """Parquet needs random access: a compressed one is first inflated to a temporary file."""
    if compression is None:
        yield path
        return
    with tempfile.NamedTemporaryFile(suffix=".parquet") as inflated:
        with _open_binary(path, compression) as raw:
            shutil.copyfileobj(raw, inflated, _BLOCK)
        inflated.flush()
        yield Path(inflated.name)


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value) if math.isfinite(value) else str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)
