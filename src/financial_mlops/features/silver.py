"""Silver: bronze rows typed, checked against named rules, and deduplicated by ``trade_id``.

Each rule is a SQL condition that valid rows satisfy, so the same text serves as a Databricks
expectation and as a plain filter. A row breaking rules goes to quarantine with their names; of
the valid rows sharing a ``trade_id`` the first delivered stays in silver and every later copy is
quarantined as ``duplicate_identical`` or ``duplicate_conflicting`` (see docs/features.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from financial_mlops.features.bronze import TRADE_FIELDS

BRONZE_COLUMNS = (*TRADE_FIELDS, "_raw_record", "_source_file", "_ingested_at")
_TYPED_COLUMNS = (*BRONZE_COLUMNS, "event_time", "_record_id")
SILVER_COLUMNS = (
    "trade_id", "symbol", "exchange", "event_time", "price", "volume",
    "_source_file", "_ingested_at", "_record_id",
)
QUARANTINE_COLUMNS = (
    *TRADE_FIELDS, "broken_rules", "raw_record", "_source_file", "_ingested_at", "_record_id",
)
RECORD_PARSED = "record_parsed"
DUPLICATE_IDENTICAL = "duplicate_identical"
DUPLICATE_CONFLICTING = "duplicate_conflicting"
# What makes two deliveries of one trade_id the same trade.
_CONTENT = ("symbol", "exchange", "event_time", "price", "volume")
_STORED = ("struct<_record_id: string, symbol: string, exchange: string, event_time: timestamp, "
           "price: double, volume: double>")

# Identifiers are judged by what is truly broken, not by one market's spelling: real feeds
# carry `BRK.B`, `BRK/B`, `ES=F`, `6758.T`, `btcusdt`, venues `NASDAQ BX`, `NYSE ARCA`, MIC
# codes. Broken: control or invisible format characters (a tab, a zero-width space), the
# Unicode replacement character left by a wrong decoding, or an absurd length.
MAX_SYMBOL_LENGTH = 32
MAX_EXCHANGE_LENGTH = 64
_BROKEN_CHARACTER = r"[\\p{Cc}\\p{Cf}\\x{FFFD}]"  # SQL text: the regex [\p{Cc}\p{Cf}\x{FFFD}]
_DATE_AND_TIME = "^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}"  # not a bare date or year
# A date and time without an offset (or zone): the instant is taken as UTC, whatever the session.
_NO_OFFSET = _DATE_AND_TIME + "(:[0-9]{2}([.][0-9]+)?)?$"
# A plain number of 9+ digits: seconds, ms, us or ns since 1970 (UTC). A shorter one (a bare
# year such as 2026) is no epoch instant in any unit: it is simply not a timestamp.
_EPOCH = "^[+-]?[0-9]{9,}([.][0-9]+)?$"
# An epoch number's unit is told by its magnitude: in each unit's band the number is an instant
# between 1973-03-03 and 2286-11-20; the bands are 10x apart, so no number fits two units. A
# number outside every band (negative, or in a gap such as 5e10, which is 1971 in ms and 3554
# in s) names no plausible instant and is quarantined as TIMESTAMP_EPOCH_UNIT_KNOWN.
EPOCH_UNITS = (  # (unit, lowest, highest exclusive, microseconds per unit)
    ("s", 10**8, 10**10, 1_000_000),
    ("ms", 10**11, 10**13, 1_000),
    ("us", 10**14, 10**16, 1),
    ("ns", 10**17, 10**19, 0.001),
)
TIMESTAMP_EPOCH_UNIT_KNOWN = "timestamp_epoch_unit_known"


def silver_rules(rules: Mapping[str, Any]) -> dict[str, str]:
    """Rule name -> SQL condition that a valid row satisfies; never null.

    A rule about a field's content holds when the field is missing, so a missing field is
    reported once, by its ``*_present`` rule. ``rules`` gives the sane event-time range:
    ``min_event_time`` and ``max_seconds_ahead`` of the row's ingestion time.
    """
    earliest = str(rules["min_event_time"])
    ahead = int(rules["max_seconds_ahead"])
    return {
        RECORD_PARSED: "_raw_record IS NULL",
        "trade_id_present": _present("trade_id"),
        "symbol_present": _present("symbol"),
        "symbol_well_formed": _well_formed("symbol", MAX_SYMBOL_LENGTH),
        "exchange_present": _present("exchange"),
        "exchange_well_formed": _well_formed("exchange", MAX_EXCHANGE_LENGTH),
        "price_positive_finite": _positive_finite("price"),
        "volume_positive_finite": _positive_finite("volume"),
        "timestamp_present": _present("timestamp"),
        "timestamp_parseable": (
            "coalesce(trim(timestamp) = '' OR event_time IS NOT NULL "
            f"OR trim(timestamp) RLIKE '{_EPOCH}', true)"
        ),
        TIMESTAMP_EPOCH_UNIT_KNOWN: (
            f"coalesce(NOT trim(timestamp) RLIKE '{_EPOCH}' OR event_time IS NOT NULL, true)"
        ),
        "timestamp_in_range": (
            f"coalesce(event_time >= TIMESTAMP'{earliest}' "
            f"AND event_time <= _ingested_at + INTERVAL {ahead} SECONDS, true)"
        ),
    }


def _present(field: str) -> str:
    return f"coalesce(trim({field}) != '', false)"


def _well_formed(field: str, max_length: int) -> str:
    return (f"coalesce(trim({field}) = '' OR (char_length(trim({field})) <= {max_length} "
            f"AND NOT {field} RLIKE '{_BROKEN_CHARACTER}'), true)")


def normalised_identifier(column: str) -> Column:
    """The spelling silver stores: trimmed, runs of spaces made one, upper case, so that
    `btcusdt` and `BTCUSDT`, or `NASDAQ  BX ` and `NASDAQ BX`, are one symbol or venue."""
    return F.upper(F.regexp_replace(F.trim(F.col(column)), " {2,}", " "))


def _positive_finite(field: str) -> str:
    # NaN compares greater than every number in Spark, so it fails `< Infinity`.
    return f"coalesce({field} > 0 AND {field} < double('Infinity'), false)"


def passes_all(rules: Mapping[str, str]) -> Column:
    """True for a row that satisfies every rule."""
    return F.expr(" AND ".join(f"({condition})" for condition in rules.values()))


def _record_text() -> Column:
    """The record as delivered: bronze's raw line, or the parsed fields as JSON."""
    return F.coalesce("_raw_record", F.to_json(F.struct(*TRADE_FIELDS)))


def event_time(stamp: Column) -> Column:
    """The instant a trade's ``timestamp`` text names, in UTC; null when it names none.

    Accepted: ISO-8601 date and time with or without an offset (``2026-01-05T14:30:00Z``,
    ``...+01:00``), ``YYYY-MM-DD HH:MM:SS[.fff]`` (no offset: UTC), and an epoch number in
    seconds, milliseconds, microseconds or nanoseconds told apart by ``EPOCH_UNITS``. An
    impossible date (``2026-02-30``) or a bare date is null. Precision is the microsecond."""
    stamp = F.trim(stamp)
    number = stamp.try_cast("decimal(38,9)")
    micros = None
    for _, lowest, highest, factor in EPOCH_UNITS:
        in_band = (number >= F.lit(Decimal(lowest))) & (number < F.lit(Decimal(highest)))
        scaled = number * F.lit(factor) if factor >= 1 else number / F.lit(round(1 / factor))
        micros = (F.when(in_band, scaled) if micros is None else micros.when(in_band, scaled))
    return (
        F.when(stamp.rlike(_EPOCH), F.timestamp_micros(micros.try_cast("long")))
        .when(stamp.rlike(_NO_OFFSET), F.try_to_timestamp(F.concat(stamp, F.lit("Z"))))
        .when(stamp.rlike(_DATE_AND_TIME), F.try_to_timestamp(stamp))
    )


def typed_trades(bronze: DataFrame) -> DataFrame:
    """Bronze rows plus ``event_time`` (the timestamp parsed by ``event_time``; null when it
    names no instant) and ``_record_id``, the identity of the bronze row: a 96-bit digest of all its
    columns (lineage and content), plus an ordinal that tells exact copies within one ingestion
    batch apart. Bronze has no row key; the id makes re-processing a batch idempotent."""
    # Spark's hashes skip nulls, so each column's null flag is hashed too: (null, "x") and
    # ("x", null) must differ.
    columns = [*BRONZE_COLUMNS, *(F.isnull(c) for c in BRONZE_COLUMNS)]
    digest = F.concat_ws("-", F.xxhash64(*columns), F.hash(*columns))
    copies = Window.partitionBy("trade_id").orderBy("_digest")
    ordinal = F.row_number().over(copies) - F.rank().over(copies)
    # `select`, not `drop`: Spark Connect analyses a `drop` eagerly, before a declarative
    # pipeline has created the upstream table.
    return bronze.select(
        *BRONZE_COLUMNS,
        event_time(F.col("timestamp")).alias("event_time"),
        digest.alias("_digest"),
    ).select(
        *_TYPED_COLUMNS[:-1],
        F.concat_ws(":", "_digest", ordinal.cast("string")).alias("_record_id"),
    )


def flag_broken(typed: DataFrame, rules: Mapping[str, str]) -> DataFrame:
    """Typed rows plus ``broken_rules``: the names of the rules the row breaks. A line that is
    not a JSON object at all breaks ``record_parsed`` only, rather than also every
    ``*_present`` rule."""
    broken = [F.when(~F.expr(condition), F.lit(name)) for name, condition in rules.items()]
    no_field = F.coalesce(*(F.col(field).cast("string") for field in TRADE_FIELDS)).isNull()
    not_an_object = F.col("_raw_record").isNotNull() & no_field
    valid = passes_all(rules)
    # Valid rows get their normalised identifiers here, before deduplication compares them;
    # rejected rows keep theirs as delivered.
    identifiers = {name: F.when(valid, normalised_identifier(name)).otherwise(F.col(name))
                   .alias(name) for name in ("symbol", "exchange")}
    return typed.select(
        *(identifiers.get(name, name) for name in _TYPED_COLUMNS),
        F.when(valid, F.array().cast("array<string>"))  # most rows: no list to build
        .when(not_an_object, F.array(F.lit(RECORD_PARSED)))
        .otherwise(F.filter(F.array(*broken), lambda name: name.isNotNull()))
        .alias("broken_rules"),
    )


def checked_trades(bronze: DataFrame, rules: Mapping[str, str]) -> DataFrame:
    """Bronze rows typed and flagged."""
    return flag_broken(typed_trades(bronze), rules)


def deduplicate(checked: DataFrame, existing: DataFrame | None = None) -> DataFrame:
    """Checked rows with the later copies of a trade flagged as duplicates.

    Per ``trade_id``, the valid row already in ``existing`` silver, else the first valid row
    delivered (earliest ``_ingested_at``, then source file and record id), is kept; every later
    valid copy breaks ``duplicate_identical`` or ``duplicate_conflicting``. A row that *is* the
    stored one (same ``_record_id``: its batch is being re-processed) is dropped: it is in
    silver already. ``existing`` needs only the silver rows of the batch's trade ids; it is
    broadcast, so the rows keep ``typed_trades``' partitioning by ``trade_id`` (one shuffle).
    """
    valid = F.size("broken_rules") == 0
    order = Window.partitionBy("trade_id").orderBy(
        F.when(valid, 0).otherwise(1), "_ingested_at", "_source_file", "_record_id")
    if existing is None:
        rows = checked.withColumn("_stored", F.lit(None).cast(_STORED))
    else:
        stored = existing.select("trade_id", F.struct("_record_id", *_CONTENT).alias("_stored"))
        rows = checked.join(F.broadcast(stored), "trade_id", "left")
    kept = F.coalesce("_stored", F.first(F.struct("_record_id", *_CONTENT)).over(order))
    is_kept = F.col("_record_id") == kept["_record_id"]
    same = F.struct(*_CONTENT) == F.struct(*(kept[c] for c in _CONTENT))
    reason = F.when(same, DUPLICATE_IDENTICAL).otherwise(DUPLICATE_CONFLICTING)
    flagged = rows.select(
        *_TYPED_COLUMNS,
        F.when(valid & ~is_kept, F.array(reason)).otherwise(F.col("broken_rules"))
        .alias("broken_rules"),
        (valid & is_kept & F.col("_stored").isNotNull()).alias("_in_silver"),
    )
    return flagged.filter(~F.col("_in_silver")).select(*_TYPED_COLUMNS, "broken_rules")


def accepted_rows(checked: DataFrame) -> DataFrame:
    """Silver rows: the checked rows that break no rule."""
    return checked.filter(F.size("broken_rules") == 0).select(*SILVER_COLUMNS)


def rejected_rows(checked: DataFrame) -> DataFrame:
    """Quarantine rows: the checked rows that break at least one rule."""
    return checked.filter(F.size("broken_rules") > 0).select(
        *TRADE_FIELDS, "broken_rules", _record_text().alias("raw_record"),
        "_source_file", "_ingested_at", "_record_id",
    )


def split_trades(
    typed: DataFrame, rules: Mapping[str, str], existing: DataFrame | None = None,
    keep: Callable[[DataFrame], DataFrame] | None = None,
) -> tuple[DataFrame, DataFrame]:
    """Typed bronze rows -> (silver rows, quarantine rows): each row lands in exactly one, or is
    dropped as the row already in ``existing`` silver (see ``deduplicate``). The one split the
    Kedro node and the declarative pipeline both call. ``keep`` holds the checked rows once
    when both outputs are computed in one job (the node's ``localCheckpoint``)."""
    checked = deduplicate(flag_broken(typed, rules), existing)
    if keep is not None:
        checked = keep(checked)
    return accepted_rows(checked), rejected_rows(checked)
