"""Ingestion nodes: fetch one batch from the chosen source (parsing landing lines to bronze is
``features.bronze.parse_landing_lines``, shared with the declarative pipeline)."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd

from financial_mlops.errors import UserError
from financial_mlops.sources import files, http_api
from financial_mlops.sources.simulator import simulate_batch

LABEL_COLUMNS = ("trade_id", "is_anomaly", "anomaly_type")
SOURCES = ("simulator", "http", "files")


def fetch_trades(
    ingestion: dict, cursor: dict, api_credentials: dict
) -> tuple[list[str] | Iterator[files.LandingChunk], pd.DataFrame, dict]:
    """Fetch the next batch from ``ingestion.source``.

    Returns the batch for the landing zone (JSON text lines; from ``files``, a lazy stream of
    chunks, so a large drop is never held in memory), the ground-truth labels (only the
    simulator knows them) and the source cursor to persist once the batch has landed.
    """
    source = ingestion.get("source")
    labels = pd.DataFrame({c: pd.Series(dtype=t) for c, t in
                           zip(LABEL_COLUMNS, ("str", "int32", "str"), strict=True)})
    if source == "simulator":
        sim = ingestion["simulator"]
        trades, labels, state = simulate_batch(
            int(sim["trades_per_batch"]), seed=int(sim["seed"]), state=cursor.get("simulator"),
            anomaly_rate=float(sim["anomaly_rate"]), regime=sim.get("regime"), start=sim["start"],
        )
        lines = trades.to_json(orient="records", lines=True).splitlines()
        labels = labels.astype({"is_anomaly": "int32"})
    elif source == "http":
        lines, state = http_api.fetch_trades(
            ingestion["http"], cursor.get("http"), (api_credentials or {}).get("api_key"))
    elif source == "files":
        lines, state = files.read_new_files(ingestion["files"], cursor.get("files"))
    else:
        raise UserError(f"ingestion.source '{source}' is not one of {', '.join(SOURCES)}")
    return lines, labels, {**cursor, source: state}
