"""Arrival watermarks: the rows of a table that arrived since a run last took them.

A run reads the rows whose arrival column is past the watermark (epoch micros, kept in a
``JSONStateDataset``) up to the latest arrival it sees, and returns the watermark moved to that
arrival, to save only once its output is written. A crash in between makes the next run take the
same rows again, so the output must be an idempotent write (a MERGE on a key).

Arrival, not event time: a late trade (an old event time) arrives now and is taken now. Rows
must reach the table in arrival order (a batch never lands behind one already there), as bronze
-> silver -> gold do: the ingestion time is stamped as each batch is read.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from financial_mlops.errors import UserError


def arrived_after(rows: DataFrame, column: str, watermark: dict,
                  key: str) -> tuple[DataFrame, dict]:
    """The rows of ``rows`` that arrived after ``watermark[key]`` (all on a first run), up to
    the latest arrival now, and the watermark that marks them taken (unchanged when none)."""
    if column not in rows.columns:
        raise UserError(f"the rows have no arrival column '{column}' to read past a watermark "
                        f"(they have {', '.join(rows.columns)}): rebuild the table")
    arrived = F.unix_micros(column)
    since = watermark.get(key)
    if since is not None:
        rows = rows.filter(arrived > F.lit(int(since)))
    until = rows.agg(F.max(arrived)).first()[0]
    if until is None:
        return rows, dict(watermark)
    return rows.filter(arrived <= F.lit(int(until))), {**watermark, key: int(until)}
